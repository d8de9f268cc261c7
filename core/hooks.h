/*
 * The hook pipeline: every extension point of the server (connect, events, joins, emits,
 * disconnects, ticks, application hooks) runs its handlers here, in priority order, then
 * registration order, until one returns a verdict other than PARLEY_PASS. Handlers are
 * registered per hook kind, optionally limited to a namespace and (EVENT, APP and SERVER_EMIT) to
 * an event name; each belongs to an owner that can remove all of its handlers at once. Registering
 * and removing from inside a running handler is safe: a run sees the handlers as they were when it
 * started, minus those removed since.
 */
#ifndef PL_HOOKS_H
#define PL_HOOKS_H

#include <stdbool.h>

#include "parley/plugin.h"

struct pl_hooks;

/* A new, empty registry; NULL when out of memory. */
struct pl_hooks *pl_hooks_new(void);
/* Frees the registry and every registration (no handler is called). NULL is a no-op. */
void pl_hooks_free(struct pl_hooks *h);

/*
 * Registers fn with ud for owner on hook. nsp limits it to one namespace (NULL: all); event
 * limits EVENT and APP handlers to one event name (NULL: every name; ignored for other hooks).
 * Both strings are copied. Returns 0 or -ENOMEM / -EINVAL.
 */
int pl_hooks_add(struct pl_hooks *h, parley_owner *owner, enum parley_hook hook, const char *nsp,
		 const char *event, int priority, parley_hook_fn fn, void *ud);
/* Removes owner's registrations of fn with ud on hook. Returns how many were removed. */
int pl_hooks_remove(struct pl_hooks *h, parley_owner *owner, enum parley_hook hook,
		    parley_hook_fn fn, void *ud);
/* Removes every registration of owner. */
void pl_hooks_remove_owner(struct pl_hooks *h, parley_owner *owner);
/* True if any handler is registered on hook (the cheap test before building an event). */
bool pl_hooks_active(const struct pl_hooks *h, enum parley_hook hook);

/*
 * Runs the handlers of hook that match nsp (and, for EVENT and APP, the event's name) on evt,
 * which points at the hook's struct (see enum parley_hook). Returns the first verdict other
 * than PARLEY_PASS, or PARLEY_PASS. An unknown verdict counts as PARLEY_PASS.
 *
 * EVENT and APP: evt is a struct parley_evt_message. A handler that replaced evt->name or
 * evt->args hands them to the event; the replaced value is freed (a name only if it is not the
 * caller's original, which stays the caller's), and a changed name is matched again: the
 * handlers of the new name that come after the current one in (priority, registration) order
 * run next. At most 16 renames per run; later ones are ignored.
 *
 * EMIT: evt is a struct parley_evt_emit holding one reference of payload; a handler that
 * replaced it hands the new reference to the event and the replaced one is released. The caller
 * releases the final evt->payload.
 *
 * CONNECT: when a handler refuses (REJECT or DISCONNECT), the handlers that passed before it
 * are called again with PARLEY_HOOK_CONNECT_FAILED, so each hears of the failure once.
 */
enum parley_verdict pl_hooks_run(struct pl_hooks *h, enum parley_hook hook, const char *nsp,
				 void *evt);

/*
 * Tells every CONNECT handler matching nsp that the connect of evt's socket failed after the
 * pipeline passed it (PARLEY_HOOK_CONNECT_FAILED).
 */
void pl_hooks_connect_failed(struct pl_hooks *h, const char *nsp, struct parley_evt_connect *evt);

/*
 * Releases what an EVENT or APP run left in evt: the name unless it is orig_name, one
 * reference of args and of reject. The fields are cleared.
 */
void pl_hooks_message_done(struct parley_evt_message *evt, const char *orig_name);

#endif
