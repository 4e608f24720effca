/*
 * cli_websockify: websockify's command line (0.10's --help plus what
 * 0.13 added), read with websockify's meaning, and turned into the
 * gateway.conf text that says the same thing. main.c parses that text
 * like any config file, so a command line and the file printed by
 * --print-config run the same gateway by construction.
 *
 * Pure: no I/O, no globals, no logging. Options are optparse's: long
 * ones as --opt=value or --opt value, unique prefixes of long names,
 * options and positional arguments in any order, "--" ending the options
 * (what follows is the wrapped program, websockify's WRAP_COMMAND_LINE).
 */
#ifndef CLI_WEBSOCKIFY_H
#define CLI_WEBSOCKIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the command line said. Strings point into the caller's argv. */
struct cli_ws {
	const char	*listen;	/* [HOST:]PORT; NULL with --inetd or
					   --unix-listen */
	const char	*target;	/* HOST:PORT; NULL when a token plugin,
					   --unix-target or a wrap names it */
	const char *const *wrap_argv;	/* after "--": the wrapped program */
	size_t		 wrap_argc;

	int		 verbose;	/* -v count */
	bool		 traffic, daemon, run_once, ssl_only, ssl_target;
	bool		 verify_client, inetd, web_auth, file_only;
	bool		 host_token, libserver, prefer_ipv6, legacy_syslog;
	bool		 ssl_target_no_verify;	/* ours: opt-out, logged */
	bool		 foreground, check;	/* ours: -d, -t */
	bool		 print_config, help, version;
	const char	*record, *cert, *key, *key_password;
	const char	*key_password_file, *key_password_env;	/* ours */
	const char	*cafile, *ssl_version, *ssl_ciphers;
	const char	*unix_listen, *unix_listen_mode, *unix_target;
	const char	*web, *wrap_mode, *target_config;
	const char	*token_plugin, *token_source;
	const char	*auth_plugin, *auth_source;
	const char	*log_file, *syslog;
	const char	*ssl_target_cafile;			/* ours */
	uint64_t	 timeout, idle_timeout, heartbeat;	/* seconds */
	unsigned	 wrap_private_port;	/* set by the caller (a free
						   127.0.0.1 port) before
						   rendering a wrap */
	bool		 heartbeat_set;
};

/*
 * Is argv a websockify command line rather than wsgate's own
 * ([-dtv] [-c FILE])? True when the program is called "websockify", or
 * when any argument is positional, "--", or an option wsgate's own form
 * does not have (--print-config among them).
 */
bool	cli_ws_wanted(int argc, const char *const argv[]);

/*
 * Read argv (argv[0] is the program name) into *o. Returns 0, or -1 with
 * a one-line message in err ("no such option: --x", "option --web
 * requires an argument", "Too few arguments", ...), as websockify's
 * parser refuses them. With --help or --version set, nothing else is
 * checked. o points into argv afterwards.
 */
int	cli_ws_parse(int argc, const char *const argv[], struct cli_ws *o,
	    char *err, size_t errlen);

/*
 * The gateway.conf text for *o: relative paths are made absolute against
 * cwd, as websockify does. Returns a malloc'd NUL-terminated text (the
 * caller frees it), or NULL with the reason in err. notes (may be NULL)
 * gets one line per option whose effect a user should hear about (a
 * password on the command line, --libserver changing nothing, ...).
 */
char	*cli_ws_render(const struct cli_ws *o, const char *cwd, char *notes,
	    size_t noteslen, char *err, size_t errlen);

/* The usage text of the websockify form, for --help. Static storage. */
const char *cli_ws_usage(void);

#endif
