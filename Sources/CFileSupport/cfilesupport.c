#define _GNU_SOURCE
#include "cfilesupport.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#define VK_CLEANUP_SLOTS 64

static char *volatile slots[VK_CLEANUP_SLOTS];
static volatile int installed;

int vk_cleanup_register(const char *path) {
    char *copy = strdup(path);
    if (!copy) return -1;
    for (int i = 0; i < VK_CLEANUP_SLOTS; i++) {
        char *expected = NULL;
        if (__atomic_compare_exchange_n(&slots[i], &expected, copy, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return i;
    }
    free(copy);
    return -1;
}

void vk_cleanup_release(int slot) {
    if (slot < 0 || slot >= VK_CLEANUP_SLOTS) return;
    char *old = __atomic_exchange_n(&slots[slot], NULL, __ATOMIC_SEQ_CST);
    free(old);
}

static void vk_cleanup_handler(int sig) {
    for (int i = 0; i < VK_CLEANUP_SLOTS; i++) {
        char *path = __atomic_load_n(&slots[i], __ATOMIC_SEQ_CST);
        if (path) unlink(path);
    }
    _exit(128 + sig);
}

void vk_cleanup_install_handlers(void) {
    if (__atomic_exchange_n(&installed, 1, __ATOMIC_SEQ_CST)) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = vk_cleanup_handler;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, SIGINT);
    sigaddset(&action.sa_mask, SIGTERM);
    sigaddset(&action.sa_mask, SIGHUP);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

int vk_make_temporary(char *template_path) {
#if defined(__linux__)
    return mkostemp(template_path, O_CLOEXEC);
#else
    int fd = mkstemp(template_path);
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#endif
}
