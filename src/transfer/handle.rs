//! How the value tree carries ivm handles (References, ExternalCopies, Callbacks, isolates,
//! tokens…) without knowing them.
//!
//! The handle kinds form one closed enum, `crate::isolate::handle::Handle`, defined in the
//! engine where every kind's payload type is visible (an isolate's handle, a host value's
//! reference…). This layer sits below it, so it names that enum through a slot: [`HandleSlot`]
//! is implemented once, by the engine, for [`Slot`], and [`Handle`] is the type it names. The
//! tree only carries, clones, compares and prints handles; the few kinds the V8 conversions of
//! this layer handle themselves (SharedArrayBuffer memory, `copyInto()` tokens) are reached
//! through [`Carried`]. Every other kind is made and recognised by the faces above.

use crate::transfer::external::ExternalData;
use crate::transfer::shared::SharedMemory;
use std::sync::Arc;

/// What the value tree needs of a handle.
pub trait Carried: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
  /// The handle of a SharedArrayBuffer's memory.
  fn shared_memory(mem: Arc<SharedMemory>) -> Self;

  /// The memory, if this is the handle of a SharedArrayBuffer.
  fn as_shared_memory(&self) -> Option<&Arc<SharedMemory>>;

  /// The copied value, if this is a `copyInto()` token (it arrives as a copy, not a handle),
  /// and whether it moves out of its ExternalCopy (`transferIn`).
  fn as_copy_into(&self) -> Option<(&Arc<ExternalData>, bool)>;
}

/// Names the engine's handle enum for this layer (implemented once, for [`Slot`]).
pub trait HandleSlot {
  /// The closed enum of handle kinds.
  type Handle: Carried;
}

/// The type the engine implements [`HandleSlot`] for (it has no values).
pub enum Slot {}

/// An ivm handle travelling inside a value: transferred as a handle, never copied. It is the
/// engine's closed enum of handle kinds (`crate::isolate::handle::Handle`); see the module
/// documentation.
pub type Handle = <Slot as HandleSlot>::Handle;
