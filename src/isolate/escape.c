/*
 * Escape hatch for V8 fatal errors (see src/isolate/catastrophe.rs).
 *
 * V8 calls its OOM / fatal-error handler deep inside its own code and aborts the process if the
 * handler returns. The only way back to a thread of ours is a non-local jump to a point set
 * before the failing work started. Rust cannot call setjmp itself (it returns twice), so this
 * file owns both ends: ivm_guarded sets the landing point and calls the work, ivm_escape jumps
 * back to the innermost landing point of the calling thread.
 *
 * Frames jumped over are abandoned, not unwound: their destructors never run. The Rust side
 * only jumps over frames of an isolate it then abandons for good (never locked or freed again).
 */
#include <setjmp.h>
#include <stddef.h>

struct ivm_landing {
  sigjmp_buf buf;
  struct ivm_landing *prev;
};

static __thread struct ivm_landing *innermost = NULL;

/* Runs body(data) with a landing point; returns 0 when it returned, 1 when it escaped. */
int ivm_guarded(void (*body)(void *), void *data) {
  struct ivm_landing landing;
  landing.prev = innermost;
  if (sigsetjmp(landing.buf, 0) == 0) {
    innermost = &landing;
    body(data);
    innermost = landing.prev;
    return 0;
  }
  /* ivm_escape already popped this landing point. */
  return 1;
}

/* Whether the calling thread has a landing point. */
int ivm_can_escape(void) { return innermost != NULL; }

/* Jumps to the innermost landing point of the calling thread; returns only if there is none. */
void ivm_escape(void) {
  struct ivm_landing *landing = innermost;
  if (landing == NULL) return;
  innermost = landing->prev;
  siglongjmp(landing->buf, 1);
}
