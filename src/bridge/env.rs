//! Per-environment state (Node's main thread or a worker): the bridge, the JS helpers from
//! `index.js`, and the isolates to dispose when the environment shuts down.

use crate::bridge::js;
use crate::bridge::Bridge;
use crate::isolate::IsolateHost;
use napi::sys;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::{Arc, Weak};

/// State of one Node environment; lives in its napi instance data. Node's thread only.
pub struct EnvData {
  /// Completion channel to this environment's loop.
  pub bridge: Arc<Bridge>,
  /// The helper object `index.js` registers (type checks Node-API lacks).
  pub helpers: Option<sys::napi_ref>,
  /// The library object (`module.exports`), recognised when transferred into an isolate.
  pub library: Option<sys::napi_ref>,
  /// The helper functions by name, resolved once.
  pub helper_fns: std::collections::HashMap<&'static str, sys::napi_ref>,
  /// Requests for this thread from isolates while it waits in a synchronous call (served by
  /// whichever wait loop is innermost), and the waiter record isolates see.
  pub sync_requests: Option<(
    crossbeam_channel::Receiver<crate::bridge::Callback>,
    Arc<dyn std::any::Any + Send + Sync>,
  )>,
  /// The waiter record of inline synchronous calls (see [`EnvData::inline_waiter`]).
  pub inline_waiter: Option<Arc<dyn std::any::Any + Send + Sync>>,
  /// Isolates created in this environment.
  pub isolates: Vec<Weak<IsolateHost>>,
  /// Host values referenced from isolates (`HostRef` ids → napi references; `true` when the
  /// value is a primitive kept in a wrapper object, since references to primitives need a newer
  /// Node-API).
  pub host_refs: std::collections::HashMap<u32, (sys::napi_ref, bool)>,
  next_host_id: u32,
}

unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  // SAFETY: `data` is the Box<EnvData> leaked in `EnvData::get`.
  drop(unsafe { Box::from_raw(data as *mut EnvData) });
}

unsafe extern "C" fn cleanup(arg: *mut c_void) {
  // SAFETY: `arg` is the EnvData pointer, still alive: the instance-data finaliser runs after
  // the environment's cleanup hooks.
  let data = unsafe { &mut *(arg as *mut EnvData) };
  for iso in data.isolates.drain(..) {
    if let Some(iso) = iso.upgrade() {
      iso.shutdown();
    }
  }
}

impl EnvData {
  /// The environment's data, created on first use. Node's thread only.
  pub fn get(env: sys::napi_env) -> napi::Result<&'static mut EnvData> {
    let mut ptr: *mut c_void = null_mut();
    // SAFETY: valid env.
    js::check(unsafe { sys::napi_get_instance_data(env, &mut ptr) })?;
    if ptr.is_null() {
      let data = Box::new(EnvData {
        bridge: Bridge::new(env)?,
        helpers: None,
        helper_fns: std::collections::HashMap::new(),
        library: None,
        sync_requests: None,
        inline_waiter: None,
        isolates: Vec::new(),
        host_refs: std::collections::HashMap::new(),
        next_host_id: 1,
      });
      ptr = Box::into_raw(data) as *mut c_void;
      // SAFETY: ownership of the box moves to the environment (freed in `finalize`).
      js::check(unsafe { sys::napi_set_instance_data(env, ptr, Some(finalize), null_mut()) })?;
      // SAFETY: the hook runs once at environment teardown with the same pointer.
      js::check(unsafe { sys::napi_add_env_cleanup_hook(env, Some(cleanup), ptr) })?;
    }
    // SAFETY: the instance data is an EnvData we created; only this env's thread uses it.
    Ok(unsafe { &mut *(ptr as *mut EnvData) })
  }

  /// Records an isolate for disposal at environment teardown.
  pub fn track(&mut self, iso: &Arc<IsolateHost>) {
    self.isolates.retain(|w| w.strong_count() > 0);
    self.isolates.push(Arc::downgrade(iso));
  }

  /// Keeps `value` alive for isolates; returns its id in the host table.
  pub fn add_host_ref(&mut self, env: sys::napi_env, value: sys::napi_value) -> napi::Result<u32> {
    let wrapped = !matches!(
      js::type_of(env, value),
      sys::ValueType::napi_object | sys::ValueType::napi_function
    );
    let target = if wrapped {
      let mut holder = null_mut();
      // SAFETY: valid env.
      js::check(unsafe { sys::napi_create_object(env, &mut holder) })?;
      js::set_named(env, holder, "v", value)?;
      holder
    } else {
      value
    };
    let mut r = null_mut();
    // SAFETY: valid env and object.
    js::check(unsafe { sys::napi_create_reference(env, target, 1, &mut r) })?;
    let id = self.next_host_id;
    self.next_host_id = self.next_host_id.wrapping_add(1).max(1);
    self.host_refs.insert(id, (r, wrapped));
    Ok(id)
  }

  /// The host value with table id `id`.
  pub fn host_value(&self, env: sys::napi_env, id: u32) -> Option<sys::napi_value> {
    let (r, wrapped) = *self.host_refs.get(&id)?;
    let mut v = null_mut();
    // SAFETY: the reference belongs to this env.
    if unsafe { sys::napi_get_reference_value(env, r, &mut v) } != sys::Status::napi_ok
      || v.is_null()
    {
      return None;
    }
    if wrapped {
      return js::get_named(env, v, "v").ok();
    }
    Some(v)
  }

  /// Identifies this environment (as [`crate::bridge::host_ref::HostRef::env_key`] does).
  pub fn bridge_key(&self) -> usize {
    Arc::as_ptr(&self.bridge) as usize
  }

  /// Drops a host table entry.
  pub fn remove_host_ref(&mut self, env: sys::napi_env, id: u32) {
    if let Some((r, _)) = self.host_refs.remove(&id) {
      // SAFETY: the reference belongs to this env and is deleted once.
      unsafe { sys::napi_delete_reference(env, r) };
    }
  }

  /// Calls helper function `name` with `args` (this = the helper object).
  pub fn helper_fn(
    &mut self,
    env: sys::napi_env,
    name: &'static str,
  ) -> napi::Result<sys::napi_value> {
    if let Some(r) = self.helper_fns.get(name) {
      let mut v = null_mut();
      // SAFETY: the reference belongs to this env.
      js::check(unsafe { sys::napi_get_reference_value(env, *r, &mut v) })?;
      return Ok(v);
    }
    let helpers = self.helpers(env)?;
    let f = js::get_named(env, helpers, name)?;
    let mut r = null_mut();
    // SAFETY: valid env and function.
    js::check(unsafe { sys::napi_create_reference(env, f, 1, &mut r) })?;
    self.helper_fns.insert(name, r);
    Ok(f)
  }

  /// This thread's request channel and waiter record for synchronous calls (created once).
  pub fn sync_requests(
    &mut self,
  ) -> (
    crossbeam_channel::Receiver<crate::bridge::Callback>,
    Arc<dyn std::any::Any + Send + Sync>,
  ) {
    if let Some((rx, w)) = &self.sync_requests {
      return (rx.clone(), w.clone());
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    let env_key = Arc::as_ptr(&self.bridge) as usize;
    let w: Arc<dyn std::any::Any + Send + Sync> = Arc::new(crate::bridge::SyncWaiter {
      env_key,
      tx,
      inline: None,
    });
    self.sync_requests = Some((rx.clone(), w.clone()));
    (rx, w)
  }

  /// The waiter record of synchronous calls that run inline on this thread (created once).
  pub fn inline_waiter(&mut self, env: sys::napi_env) -> Arc<dyn std::any::Any + Send + Sync> {
    if let Some(w) = &self.inline_waiter {
      return w.clone();
    }
    let env_key = Arc::as_ptr(&self.bridge) as usize;
    // Requests from other threads go through the event loop instead (see `host_ref::call`).
    let (tx, _) = crossbeam_channel::unbounded();
    let w: Arc<dyn std::any::Any + Send + Sync> = Arc::new(crate::bridge::SyncWaiter {
      env_key,
      tx,
      inline: Some((crate::bridge::NodePtr(env), std::thread::current().id())),
    });
    self.inline_waiter = Some(w.clone());
    w
  }

  /// The helper object registered by `index.js`.
  pub fn helpers(&self, env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let r = self
      .helpers
      .ok_or_else(|| napi::Error::from_reason("helpers not registered"))?;
    let mut v = null_mut();
    // SAFETY: the reference belongs to this env.
    js::check(unsafe { sys::napi_get_reference_value(env, r, &mut v) })?;
    Ok(v)
  }
}
