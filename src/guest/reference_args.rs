//! Reading the arguments of guest Reference methods (keys, the engine's option schema, values
//! leaving the guest) into operations. The host face reads the same arguments in
//! `api::reference` with the same schema and rules.

use super::options::{self as o, V8Source};
use crate::error::msg;
use crate::isolate::ops::register::{register, Info};
use crate::isolate::options::{ApplyOptions, GetOptions, KeyKind};
use crate::isolate::ref_op::RefOp;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use crate::transfer::value::Value;

/// The operations of a Reference.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
  /// `apply*`
  Apply,
  /// `copy*`
  Copy,
  /// `get*`
  Get,
  /// `set*`
  Set,
  /// `delete*`
  Delete,
}

/// Reads the arguments of `op` on a value of another thread: the operation and its `timeout`.
pub fn parse<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  op: Op,
) -> Result<(RefOp, u32), Thrown> {
  Ok(match op {
    Op::Apply => {
      let opts = apply_options(scope, args)?;
      (apply_op(scope, args, opts)?, opts.timeout)
    }
    Op::Copy => (RefOp::Copy, 0),
    Op::Get => {
      let key = cross_key(scope, args.get(0))?;
      let opts = get_options(scope, args)?;
      let op = RefOp::Get {
        key,
        accessors: opts.accessors,
        inherit: false,
        result: opts.transfer,
      };
      (op, 0)
    }
    Op::Set => {
      let key = cross_key(scope, args.get(0))?;
      let t = set_options(scope, args)?;
      let value = export_arg(scope, args.get(1), t)?;
      (RefOp::Set { key, value }, 0)
    }
    Op::Delete => {
      let key = cross_key(scope, args.get(0))?;
      (RefOp::Delete { key }, 0)
    }
  })
}

/// The argument types `op` checks before it looks at its target, as isolated-vm's signature
/// checks do (the host face's `api::options::signature`): the options parameter must be an
/// object (or absent), and `apply`'s parameter 2 an array (or absent).
pub fn signature<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  op: Op,
) -> Result<(), Thrown> {
  let n = match op {
    Op::Get => 2,
    Op::Set | Op::Apply => 3,
    Op::Copy | Op::Delete => return Ok(()),
  };
  let opts = args.get(n as i32 - 1);
  crate::isolate::options::object_arg(
    &mut V8Source::new(scope),
    opts,
    crate::isolate::options::METHOD,
    n,
  )?;
  let list = args.get(1);
  if op == Op::Apply && !list.is_undefined() && !list.is_array() {
    return Err(Thrown::type_error(
      "`undefined` requires parameter 2 to be an array",
    ));
  }
  Ok(())
}

/// A key argument: string, symbol or uint32 number, else "Invalid `key`".
pub fn key<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  k: v8::Local<'s, v8::Value>,
) -> Result<KeyKind, Thrown> {
  crate::isolate::options::key(&mut V8Source::new(scope), k)
}

/// A key that must travel to another thread: a symbol cannot ("Invalid `key`").
pub fn cross_key<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  k: v8::Local<'s, v8::Value>,
) -> Result<Value, Thrown> {
  match key(scope, k)? {
    KeyKind::String => Ok(Value::String(v8_out::to_js_string(scope, k))),
    KeyKind::Index(i) => Ok(Value::Number(f64::from(i))),
    KeyKind::Symbol => Err(Thrown::type_error(msg::INVALID_KEY)),
  }
}

/// `get*(key, options)`: parameter 2.
pub fn get_options<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<GetOptions, Thrown> {
  o::method(scope, args.get(1), 2)
}

/// `set*(key, value, options)`: parameter 3.
pub fn set_options<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<TransferOptions, Thrown> {
  o::method(scope, args.get(2), 3)
}

/// `apply*(receiver, args, options)`: parameter 3.
pub fn apply_options<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<ApplyOptions, Thrown> {
  o::method(scope, args.get(2), 3)
}

/// A value leaving the guest as an argument or a `set` value (SPEC §2.2): the transfer
/// options, then handles and primitives, else "A non-transferable value was passed". Under
/// `promise: true` it arrives as a promise, settled when a promise of this guest settles (its
/// value then leaving under the other options), or at once with a plain value.
pub fn export_arg<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Value, Thrown> {
  if opts.promise {
    let slot = crate::isolate::ops::promise_export::promise_slot(scope, v, opts, export_arg)
      .ok_or_else(|| Thrown::error("Failed to attach to the promise"))?;
    return Ok(Value::Handle(crate::isolate::handle::Handle::Promise(slot)));
  }
  if opts.copy {
    return v8_out::copy(scope, v);
  }
  if opts.external_copy {
    let data = crate::transfer::external::ExternalData::new(v8_out::copy(scope, v)?);
    return Ok(Value::Handle(crate::isolate::handle::Handle::ExternalCopy(
      data,
    )));
  }
  if opts.reference {
    let info = Info {
      type_of: v8_out::type_of(v),
      inherit: false,
    };
    return Ok(Value::Handle(register(scope, v, info)?.into_handle()));
  }
  if let Some(p) = v8_out::primitive(scope, v) {
    return Ok(p);
  }
  match super::handle_of(scope, v) {
    Some(h) => h.map(Value::Handle),
    None => match v8::Local::<v8::Function>::try_from(v) {
      // A function crosses as a callable function (SPEC §2.2 rule 2), as in isolated-vm.
      Ok(f) => function_handle(scope, f).map(Value::Handle),
      Err(_) => Err(Thrown::type_error(msg::NON_TRANSFERABLE)),
    },
  }
}

/// A guest function leaving as a callable function: calls come back into this isolate.
fn function_handle<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  f: v8::Local<'s, v8::Function>,
) -> Result<crate::isolate::handle::Handle, Thrown> {
  let name = f.get_name(scope).to_rust_string_lossy(scope);
  let length = v8::String::new(scope, "length")
    .and_then(|k| f.get(scope, k.into()))
    .and_then(|l| l.uint32_value(scope))
    .unwrap_or(0);
  let info = Info {
    type_of: "function",
    inherit: false,
  };
  let target = register(scope, f.into(), info)?;
  Ok(crate::isolate::handle::Handle::Function(
    std::sync::Arc::new(crate::isolate::remote::IsolateFunction {
      target,
      name,
      length,
      mode: crate::isolate::flavor::Flavor::Sync,
    }),
  ))
}

/// The receiver and arguments of `apply*` leaving the guest under `arguments` options.
pub fn apply_values<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  arg_opts: TransferOptions,
) -> Result<(Value, Vec<Value>), Thrown> {
  let recv = args.get(0);
  let receiver = if recv.is_undefined() {
    Value::Undefined
  } else {
    export_arg(scope, recv, arg_opts)?
  };
  let values = export_list(scope, args.get(1), arg_opts)?;
  Ok((receiver, values))
}

/// `apply*(receiver, args, options)` as an operation (options already read).
pub fn apply_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  opts: ApplyOptions,
) -> Result<RefOp, Thrown> {
  let (receiver, args) = apply_values(scope, args, opts.arguments)?;
  Ok(RefOp::Apply {
    receiver,
    args,
    result: opts.result,
  })
}

/// An arguments array (parameter 2; `undefined` for none) leaving the guest under `opts`.
pub fn export_list<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  list: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Vec<Value>, Thrown> {
  let mut values = Vec::new();
  if list.is_undefined() {
    return Ok(values);
  }
  let arr = v8::Local::<v8::Array>::try_from(list)
    .map_err(|_| Thrown::type_error("`undefined` requires parameter 2 to be an array"))?;
  for i in 0..arr.length() {
    let x = arr
      .get_index(scope, i)
      .ok_or_else(|| Thrown::error("Failed to read argument"))?;
    values.push(export_arg(scope, x, opts)?);
  }
  Ok(values)
}
