#ifndef CFILESUPPORT_H
#define CFILESUPPORT_H

/// Temporary output files to delete when the process is interrupted. The table lives in C because a
/// signal handler may only touch async-signal-safe state: fixed slots, atomic pointers, unlink and _exit.

/// Remembers `path` (copied); returns a slot to release later, or -1 when every slot is taken.
int vk_cleanup_register(const char *path);
/// Forgets the path in `slot` (after the file was renamed into place or removed).
void vk_cleanup_release(int slot);
/// Installs handlers for SIGINT, SIGTERM and SIGHUP that delete every registered file and exit with
/// 128 + the signal number (130, 143, 129). Idempotent.
void vk_cleanup_install_handlers(void);

/// Creates and opens a new file exclusively from `template_path` (ending in XXXXXX, replaced in place),
/// close-on-exec; -1 with errno on failure.
int vk_make_temporary(char *template_path);

#endif
