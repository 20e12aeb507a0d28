//! The closed set of handle kinds: every ivm object that crosses between Node and isolates, or
//! between isolates, travels as one [`Handle`] inside a value (`transfer::Value::Handle`). The
//! faces make them from their objects and materialise them as objects again with a `match`, so
//! a new kind is a compile error wherever it is not handled. Any thread.

use crate::isolate::host_ref::{CallbackHandle, HostRef};
use crate::isolate::remote::RemoteHandle;
use crate::isolate::remote::{
  IsolateContext, IsolateFunction, IsolateModule, IsolateRef, IsolateScript,
};
use crate::isolate::IsolateHost;
use crate::transfer::external::ExternalData;
use crate::transfer::handle::{Carried, HandleSlot, Slot};
use crate::transfer::settle::SettleSlot;
use crate::transfer::shared::SharedMemory;
use std::sync::Arc;

/// An ivm handle travelling inside a value. Cloning shares the payload; two handles are equal
/// when they are of the same kind and share it (identity, not contents).
#[derive(Clone)]
pub enum Handle {
  /// An isolate (`Isolate`).
  Isolate(Arc<IsolateHost>),
  /// A context of some isolate (`Context`).
  Context(IsolateContext),
  /// A compiled script of some isolate (`Script`).
  Script(IsolateScript),
  /// A compiled module of some isolate (`Module`).
  Module(IsolateModule),
  /// A Reference to a value of some isolate.
  Reference(IsolateRef),
  /// A Reference to a value of a Node environment.
  HostReference(Arc<HostRef>),
  /// A function of some isolate crossing as a callable function, with its call mode (a guest's
  /// `Callback`, or a function result under SPEC §2.2 rule 2).
  Function(Arc<IsolateFunction>),
  /// A host function crossing as a callable function, with its call mode (a `Callback`, or a
  /// plain function).
  HostFunction(Arc<CallbackHandle>),
  /// An `ExternalCopy`.
  ExternalCopy(Arc<ExternalData>),
  /// The token `externalCopy.copyInto()` returns: it arrives as a copy of the value (moved
  /// out of the ExternalCopy when the flag, `transferIn`, is set).
  CopyInto(Arc<ExternalData>, bool),
  /// The token `derefInto()` returns for a Reference to an isolate's value: it arrives as the
  /// value in that isolate (and fails anywhere else). Holds the reference table entry.
  DerefInto(Arc<RemoteHandle>),
  /// The token `derefInto()` returns for a Reference to a host value: it arrives as the value in
  /// that environment (and fails anywhere else).
  HostDerefInto(Arc<HostRef>),
  /// The memory of a SharedArrayBuffer (it stays shared).
  SharedMemory(Arc<SharedMemory>),
  /// The library object (`ivm`).
  Library,
  /// A value under `promise: true` (SPEC §2.2): it arrives as a promise, settled when `.0` is
  /// (by the host promise it stands for, or at once for a plain value).
  Promise(Arc<SettleSlot>),
}

/// The kind of a [`Handle`], without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
  /// [`Handle::Isolate`]
  Isolate,
  /// [`Handle::Context`]
  Context,
  /// [`Handle::Script`]
  Script,
  /// [`Handle::Module`]
  Module,
  /// [`Handle::Reference`]
  Reference,
  /// [`Handle::HostReference`]
  HostReference,
  /// [`Handle::Function`]
  Function,
  /// [`Handle::HostFunction`]
  HostFunction,
  /// [`Handle::ExternalCopy`]
  ExternalCopy,
  /// [`Handle::CopyInto`]
  CopyInto,
  /// [`Handle::DerefInto`]
  DerefInto,
  /// [`Handle::HostDerefInto`]
  HostDerefInto,
  /// [`Handle::SharedMemory`]
  SharedMemory,
  /// [`Handle::Library`]
  Library,
  /// [`Handle::Promise`]
  Promise,
}

impl HandleKind {
  /// What the handle is, as messages name it: the class of the object it stands for.
  pub fn name(self) -> &'static str {
    match self {
      HandleKind::Isolate => "Isolate",
      HandleKind::Context => "Context",
      HandleKind::Script => "Script",
      HandleKind::Module => "Module",
      HandleKind::Reference | HandleKind::HostReference => "Reference",
      HandleKind::Function | HandleKind::HostFunction => "Callback",
      HandleKind::ExternalCopy => "ExternalCopy",
      HandleKind::CopyInto => "ExternalCopyInto",
      HandleKind::DerefInto | HandleKind::HostDerefInto => "Dereference",
      HandleKind::SharedMemory => "SharedArrayBuffer",
      HandleKind::Library => "ivm",
      HandleKind::Promise => "Promise",
    }
  }
}

impl Handle {
  /// Its kind.
  pub fn kind(&self) -> HandleKind {
    match self {
      Handle::Isolate(_) => HandleKind::Isolate,
      Handle::Context(_) => HandleKind::Context,
      Handle::Script(_) => HandleKind::Script,
      Handle::Module(_) => HandleKind::Module,
      Handle::Reference(_) => HandleKind::Reference,
      Handle::HostReference(_) => HandleKind::HostReference,
      Handle::Function(_) => HandleKind::Function,
      Handle::HostFunction(_) => HandleKind::HostFunction,
      Handle::ExternalCopy(_) => HandleKind::ExternalCopy,
      Handle::CopyInto(..) => HandleKind::CopyInto,
      Handle::DerefInto(_) => HandleKind::DerefInto,
      Handle::HostDerefInto(_) => HandleKind::HostDerefInto,
      Handle::SharedMemory(_) => HandleKind::SharedMemory,
      Handle::Library => HandleKind::Library,
      Handle::Promise(_) => HandleKind::Promise,
    }
  }
}

impl PartialEq for Handle {
  fn eq(&self, other: &Self) -> bool {
    use Handle::*;
    match (self, other) {
      (Isolate(a), Isolate(b)) => Arc::ptr_eq(a, b),
      (Context(a), Context(b)) => Arc::ptr_eq(&a.handle, &b.handle),
      (Script(a), Script(b)) => Arc::ptr_eq(&a.handle, &b.handle),
      (Module(a), Module(b)) => Arc::ptr_eq(&a.handle, &b.handle),
      (Reference(a), Reference(b)) => Arc::ptr_eq(&a.handle, &b.handle),
      (HostReference(a), HostReference(b)) | (HostDerefInto(a), HostDerefInto(b)) => {
        Arc::ptr_eq(a, b)
      }
      (Function(a), Function(b)) => Arc::ptr_eq(a, b),
      (HostFunction(a), HostFunction(b)) => Arc::ptr_eq(a, b),
      (ExternalCopy(a), ExternalCopy(b)) | (CopyInto(a, _), CopyInto(b, _)) => Arc::ptr_eq(a, b),
      (DerefInto(a), DerefInto(b)) => Arc::ptr_eq(a, b),
      (SharedMemory(a), SharedMemory(b)) => Arc::ptr_eq(a, b),
      (Library, Library) => true,
      (Promise(a), Promise(b)) => Arc::ptr_eq(a, b),
      _ => false,
    }
  }
}

impl std::fmt::Debug for Handle {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "Handle({:?})", self.kind())
  }
}

impl Carried for Handle {
  fn shared_memory(mem: Arc<SharedMemory>) -> Self {
    Handle::SharedMemory(mem)
  }

  fn as_shared_memory(&self) -> Option<&Arc<SharedMemory>> {
    match self {
      Handle::SharedMemory(mem) => Some(mem),
      _ => None,
    }
  }

  fn as_copy_into(&self) -> Option<(&Arc<ExternalData>, bool)> {
    match self {
      Handle::CopyInto(data, transfer_in) => Some((data, *transfer_in)),
      _ => None,
    }
  }
}

impl HandleSlot for Slot {
  type Handle = Handle;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;
  use crate::transfer::value::Value;

  fn data(n: f64) -> Arc<ExternalData> {
    ExternalData::new(Value::Number(n))
  }

  #[test]
  fn identity_is_per_kind_and_payload() {
    let a = data(1.0);
    let copy = Handle::ExternalCopy(a.clone());
    assert_eq!(copy, copy.clone());
    assert_eq!(copy, Handle::ExternalCopy(a.clone()));
    // Same payload, other kind.
    assert_ne!(copy, Handle::CopyInto(a.clone(), false));
    // Same contents, other payload.
    assert_ne!(copy, Handle::ExternalCopy(data(1.0)));
    assert_eq!(Handle::Library, Handle::Library);
    assert_ne!(Handle::Library, copy);
  }

  #[test]
  fn values_compare_handles_by_identity() {
    let a = data(2.0);
    let v = Value::Handle(Handle::ExternalCopy(a.clone()));
    assert_eq!(v, v.clone());
    assert_ne!(v, Value::Handle(Handle::ExternalCopy(data(2.0))));
  }

  #[test]
  fn the_value_tree_reaches_its_kinds() {
    let a = data(3.0);
    let token = Handle::CopyInto(a.clone(), false);
    assert!(Arc::ptr_eq(token.as_copy_into().unwrap().0, &a));
    assert!(token.as_shared_memory().is_none());
    assert!(Handle::ExternalCopy(a).as_copy_into().is_none());
    let mem = SharedMemory::for_memory(0, 0, || {
      Ok(crate::transfer::shared::Owner::Node {
        env_key: 1,
        id: 1,
        keep: Box::new(()),
      })
    })
    .unwrap();
    let h = <Handle as Carried>::shared_memory(mem.clone());
    assert_eq!(h.kind(), HandleKind::SharedMemory);
    assert!(Arc::ptr_eq(h.as_shared_memory().unwrap(), &mem));
  }

  #[test]
  fn kind_names() {
    assert_eq!(Handle::Library.kind().name(), "ivm");
    assert_eq!(
      Handle::CopyInto(data(0.0), false).kind().name(),
      "ExternalCopyInto"
    );
    assert_eq!(HandleKind::HostReference.name(), "Reference");
    assert_eq!(HandleKind::HostFunction.name(), "Callback");
    assert_eq!(format!("{:?}", Handle::Library), "Handle(Library)");
  }

  #[test]
  fn handles_stay_small() {
    // A handle moves inside a value without an allocation of its own: keep it within two words
    // of payload beside the tag, so that `Value` does not grow.
    assert!(std::mem::size_of::<Handle>() <= 40);
    assert!(std::mem::size_of::<Handle>() <= std::mem::size_of::<Value>());
  }
}
