/*
 * Unit tests of the moderation plugin: the plugin's source is compiled in with a fake host
 * table (sockets are plain structs, the database is ":memory:"), so the word filter, the
 * refusal of commands and the mute check run without a server. Prints file:line on failure.
 */
#include "moderation.c"

static int failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			failures++;                                                              \
		}                                                                                \
	} while (0)

struct fake_socket {
	json_t *userid; /* identity's userid or NULL */
	json_t *name;	/* identity's name or NULL */
};

static json_t *last_ack; /* the last ack answer (a new reference) */

static void fake_log(parley_owner *o, enum parley_log_level level, const char *fmt, ...)
{
	(void)o;
	(void)level;
	(void)fmt;
}

static int fake_hook_add(parley_owner *o, enum parley_hook hook, const char *nsp, const char *event,
			 int priority, parley_hook_fn fn, void *ud)
{
	(void)o, (void)hook, (void)nsp, (void)event, (void)priority, (void)fn, (void)ud;
	return 0;
}

static const char *fake_config_string(const char *key)
{
	(void)key;
	return NULL;
}

static json_t *fake_userid(const parley_socket *s)
{
	return ((const struct fake_socket *)s)->userid;
}

static json_t *fake_name(const parley_socket *s)
{
	return ((const struct fake_socket *)s)->name;
}

static parley_nsp *fake_socket_nsp(parley_socket *s)
{
	(void)s;
	return (parley_nsp *)&failures; /* any non-NULL handle */
}

static const char *fake_nsp_name(const parley_nsp *nsp)
{
	(void)nsp;
	return "/";
}

static int fake_ack(parley_socket *s, long long id, json_t *args, parley_binary *const *att,
		    unsigned n_att)
{
	(void)s, (void)id, (void)att, (void)n_att;
	json_decref(last_ack);
	last_ack = json_incref(args);
	return 0;
}

static const struct parley_api fake = {
    .size = sizeof fake,
    .version = PARLEY_API_VERSION,
    .log = fake_log,
    .hook_add = fake_hook_add,
    .config_string = fake_config_string,
    .socket_userid = fake_userid,
    .socket_name = fake_name,
    .socket_nsp = fake_socket_nsp,
    .nsp_name = fake_nsp_name,
    .ack = fake_ack,
};

/* Runs fn on a chat event {msg: text} from s; returns the verdict, *args_out the args after. */
static enum parley_verdict run(parley_hook_fn fn, struct fake_socket *s, const char *text,
			       json_t **reject, json_t **args_out)
{
	struct parley_evt_message ev = {.size = sizeof ev,
					.socket = (parley_socket *)s,
					.name = "chat",
					.args = json_pack("[{ss}]", "msg", text),
					.ack_id = 1};
	enum parley_verdict v = fn(PARLEY_HOOK_APP, &ev, NULL);
	*reject = ev.reject;
	if (args_out)
		*args_out = ev.args;
	else
		json_decref(ev.args);
	return v;
}

static const char *error_of(json_t *answer)
{
	return json_string_value(json_object_get(json_array_get(answer, 0), "error"));
}

static void test_scan(void)
{
	const char *const opts[] = {"words", " darn, HECK ,,", NULL};
	CHECK(parley_plugin_init(&fake, NULL, opts) == 0);
	CHECK(json_object_size(words) == 2 && min_word == 4 && max_word == 4);
	char out[64];
	size_t n;
	const char *t = "Darn! heck-darned_heck HECK";
	CHECK(scan(t, strlen(t), out, &n) == 3);
	CHECK(strcmp(out, "****! ****-darned_heck ****") == 0);
	CHECK(n == strlen(t));
	CHECK(scan("darning", 7, NULL, NULL) == 0);
	CHECK(scan("", 0, NULL, NULL) == 0);
	parley_plugin_cleanup(&fake, NULL);
}

static void test_mask_and_reject(void)
{
	struct fake_socket s = {0};
	json_t *reject, *args;
	const char *const mask[] = {"words", "darn", NULL};
	CHECK(parley_plugin_init(&fake, NULL, mask) == 0);
	CHECK(run(on_filter, &s, "oh darn it", &reject, &args) == PARLEY_PASS);
	CHECK(!reject);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(args, 0), "msg")),
		     "oh **** it") == 0);
	json_decref(args);
	parley_plugin_cleanup(&fake, NULL);

	const char *const rej[] = {"words", "darn", "filter", "reject", NULL};
	CHECK(parley_plugin_init(&fake, NULL, rej) == 0);
	CHECK(run(on_filter, &s, "DARN", &reject, NULL) == PARLEY_REJECT);
	CHECK(strcmp(error_of(reject), "message refused: forbidden word") == 0);
	json_decref(reject);
	CHECK(run(on_filter, &s, "dear", &reject, NULL) == PARLEY_PASS && !reject);
	parley_plugin_cleanup(&fake, NULL);

	const char *const bad[] = {"filter", "sometimes", NULL};
	CHECK(parley_plugin_init(&fake, NULL, bad) == -EINVAL);
}

static void test_commands_and_mutes(void)
{
	const char *const opts[] = {"moderators", "mod1,42", NULL};
	CHECK(parley_plugin_init(&fake, NULL, opts) == 0);
	struct fake_socket user = {json_string("u1"), json_string("Una")};
	struct fake_socket mod = {json_integer(42), json_string("Mod")};
	json_t *reject;

	CHECK(run(on_chat, &user, "/ban Una", &reject, NULL) == PARLEY_REJECT);
	CHECK(strcmp(error_of(reject), "only moderators can use /ban") == 0);
	json_decref(reject);
	CHECK(run(on_chat, &user, "/shrug", &reject, NULL) == PARLEY_PASS && !reject);
	CHECK(run(on_chat, &user, "hello", &reject, NULL) == PARLEY_PASS && !reject);

	/* a numeric userid is a moderator by its text; a bad command is answered and dropped */
	CHECK(run(on_chat, &mod, "/mute u1 soon", &reject, NULL) == PARLEY_DROP && !reject);
	CHECK(strcmp(error_of(last_ack), "usage: /mute NAME MINUTES") == 0);
	CHECK(run(on_chat, &mod, "/delete x", &reject, NULL) == PARLEY_DROP);
	CHECK(strcmp(error_of(last_ack), "usage: /delete ID") == 0);

	/* mutes as the database would load them: one in force, one expired */
	json_object_set_new(state[MUTES], "/\nu1",
			    new_entry("/", "u1", "Una", "42", now_ms() + 90000));
	CHECK(run(on_chat, &user, "hello", &reject, NULL) == PARLEY_REJECT);
	CHECK(strcmp(error_of(reject), "you are muted for 2 more minutes") == 0);
	json_decref(reject);
	CHECK(run(on_private, &user, "psst", &reject, NULL) == PARLEY_REJECT);
	json_decref(reject);
	CHECK(run(on_chat, &mod, "hello", &reject, NULL) == PARLEY_PASS && !reject);
	json_object_set_new(state[MUTES], "/\nu1", new_entry("/", "u1", "Una", "42", now_ms() - 1));
	CHECK(run(on_chat, &user, "hello", &reject, NULL) == PARLEY_PASS && !reject);
	CHECK(json_object_size(state[MUTES]) == 0);

	/* a banned userid's login is refused and disconnected */
	json_object_set_new(state[BANS], "/\nu1", new_entry("/", "u1", "Una", "42", 0));
	struct parley_evt_message ev = {.size = sizeof ev,
					.socket = (parley_socket *)&mod,
					.args = json_pack("[{ss}]", "userid", "u1"),
					.ack_id = 1};
	CHECK(on_login(PARLEY_HOOK_APP, &ev, NULL) == PARLEY_DISCONNECT);
	CHECK(strcmp(error_of(ev.reject), "banned") == 0);
	json_decref(ev.reject);
	json_decref(ev.args);

	parley_plugin_cleanup(&fake, NULL);
	json_decref(user.userid);
	json_decref(user.name);
	json_decref(mod.userid);
	json_decref(mod.name);
}

int main(void)
{
	int v[] = {0, PARLEY_API_VERSION};
	CHECK(parley_plugin_version(2, v) == PARLEY_API_VERSION);
	CHECK(parley_plugin_version(1, v) == -1);
	test_scan();
	test_mask_and_reject();
	test_commands_and_mutes();
	json_decref(last_ack);
	if (failures)
		fprintf(stderr, "test_moderation: %d failures\n", failures);
	return failures != 0;
}
