//! Reading the arguments of guest Reference methods into operations (keys, transfer options,
//! values leaving the guest).

use crate::error::msg;
use crate::isolate::host_op::HostOp;
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

/// Reads the arguments of `op`.
pub fn parse<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
  op: Op,
) -> Result<HostOp, Thrown> {
  match op {
    Op::Apply => apply_op(scope, args),
    Op::Copy => Ok(HostOp::Copy),
    Op::Get => get_op(scope, args),
    Op::Set => set_op(scope, args),
    Op::Delete => delete_op(scope, args),
  }
}

/// The `timeout` option of `apply*` (0: none).
pub fn timeout<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<u32, Thrown> {
  let opts = v8::Local::<v8::Object>::try_from(args.get(2)).ok();
  super::options::timeout(scope, opts)
}

/// Reads `{ copy, externalCopy, reference }` from a guest options object.
pub fn guest_transfer(
  scope: &mut v8::PinScope<'_, '_>,
  obj: Option<v8::Local<v8::Object>>,
) -> Result<TransferOptions, Thrown> {
  let flag = |scope: &mut v8::PinScope<'_, '_>, name: &str| -> bool {
    let Some(o) = obj else { return false };
    let Some(k) = v8::String::new(scope, name) else {
      return false;
    };
    o.get(scope, k.into())
      .map(|v| v.boolean_value(scope))
      .unwrap_or(false)
  };
  let (c, e, r, p) = (
    flag(scope, "copy"),
    flag(scope, "externalCopy"),
    flag(scope, "reference"),
    flag(scope, "promise"),
  );
  TransferOptions::new(c, e, r, p)
}

fn sub_object<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
  name: &str,
) -> Option<v8::Local<'s, v8::Object>> {
  let o = obj?;
  let k = v8::String::new(scope, name)?;
  let v = o.get(scope, k.into())?;
  v8::Local::<v8::Object>::try_from(v).ok()
}

/// A value leaving the guest as an argument: options, then primitives, else non-transferable.
pub fn export_arg<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  opts: TransferOptions,
) -> Result<Value, Thrown> {
  if opts.copy {
    return v8_out::copy(scope, v);
  }
  if opts.external_copy {
    let data = crate::transfer::external::ExternalData::new(v8_out::copy(scope, v)?);
    return Ok(Value::Handle(crate::isolate::handle::Handle::ExternalCopy(
      data,
    )));
  }
  if let Some(p) = v8_out::primitive(scope, v) {
    return Ok(p);
  }
  match super::handle_of(scope, v) {
    Some(h) => h.map(Value::Handle),
    None => Err(Thrown::type_error(msg::NON_TRANSFERABLE)),
  }
}

/// Reads `applySync`-style arguments: `(receiver, args, { arguments, result })`.
pub fn apply_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  let opts = v8::Local::<v8::Object>::try_from(args.get(2)).ok();
  let arg_obj = sub_object(scope, opts, "arguments");
  let arg_opts = guest_transfer(scope, arg_obj)?;
  let result_obj = sub_object(scope, opts, "result");
  let result_opts = guest_transfer(scope, result_obj)?;
  let recv = args.get(0);
  let receiver = if recv.is_undefined() {
    Value::Undefined
  } else {
    export_arg(scope, recv, arg_opts)?
  };
  let values = export_list(scope, args.get(1), arg_opts)?;
  Ok(HostOp::Apply {
    receiver,
    args: values,
    result: result_opts,
  })
}

/// A property key from the guest: a string or a uint32 number.
pub fn guest_key(
  scope: &mut v8::PinScope<'_, '_>,
  k: v8::Local<v8::Value>,
) -> Result<Value, Thrown> {
  match v8_out::primitive(scope, k) {
    Some(Value::String(s)) => Ok(Value::String(s)),
    Some(Value::Number(n)) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => {
      Ok(Value::Number(n))
    }
    _ => Err(Thrown::type_error(msg::INVALID_KEY)),
  }
}

pub fn get_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  let key = guest_key(scope, args.get(0))?;
  let opts = v8::Local::<v8::Object>::try_from(args.get(1)).ok();
  let result = guest_transfer(scope, opts)?;
  let accessors = match opts {
    Some(o) => {
      let k = v8::String::new(scope, "accessors")
        .ok_or_else(|| Thrown::error("Failed to read options"))?;
      o.get(scope, k.into())
        .map(|v| v.boolean_value(scope))
        .unwrap_or(false)
    }
    None => false,
  };
  Ok(HostOp::Get {
    key,
    accessors,
    inherit: false,
    result,
  })
}

pub fn set_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  let key = guest_key(scope, args.get(0))?;
  let opts = v8::Local::<v8::Object>::try_from(args.get(2)).ok();
  let t = guest_transfer(scope, opts)?;
  let value = export_arg(scope, args.get(1), t)?;
  Ok(HostOp::Set { key, value })
}

pub fn delete_op<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: &v8::FunctionCallbackArguments<'s>,
) -> Result<HostOp, Thrown> {
  Ok(HostOp::Delete {
    key: guest_key(scope, args.get(0))?,
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
