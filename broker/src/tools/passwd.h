/* passwd.h - `hookmq passwd`: manage the password file of the password-file provider
 * (hooks.password_file). Called by main() when argv[1] is "passwd". */
#ifndef HMQ_TOOLS_PASSWD_H
#define HMQ_TOOLS_PASSWD_H

/* argv[0] is "passwd". Returns the process exit status (0 ok, 1 error, 2 usage). */
int hmq_passwd_main(int argc, char **argv);

#endif
