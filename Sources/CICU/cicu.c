#include "cicu.h"
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/uregex.h>
#include <unicode/uversion.h>
#include <unicode/uchar.h>

int64_t vk_nfc_utf8(const uint8_t *src, int64_t len, uint8_t *dst, int64_t cap) {
    UErrorCode err = U_ZERO_ERROR;
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&err);
    if (U_FAILURE(err) || len > INT32_MAX / 4) return -1;
    int32_t u16len = 0;
    u_strFromUTF8(NULL, 0, &u16len, (const char *)src, (int32_t)len, &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) err = U_ZERO_ERROR;
    if (U_FAILURE(err)) return -1;
    UChar *u16 = malloc(sizeof(UChar) * (size_t)(u16len + 1));
    u_strFromUTF8(u16, u16len + 1, NULL, (const char *)src, (int32_t)len, &err);
    if (U_FAILURE(err)) { free(u16); return -1; }
    int32_t outCap = u16len * 3 + 16;
    UChar *out = malloc(sizeof(UChar) * (size_t)outCap);
    int32_t outLen = unorm2_normalize(nfc, u16, u16len, out, outCap, &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) {
        err = U_ZERO_ERROR;
        free(out);
        outCap = outLen + 1;
        out = malloc(sizeof(UChar) * (size_t)outCap);
        outLen = unorm2_normalize(nfc, u16, u16len, out, outCap, &err);
    }
    free(u16);
    if (U_FAILURE(err)) { free(out); return -1; }
    int32_t u8len = 0;
    u_strToUTF8((char *)dst, (int32_t)(cap > INT32_MAX ? INT32_MAX : cap), &u8len, out, outLen, &err);
    free(out);
    if (err == U_BUFFER_OVERFLOW_ERROR || err == U_STRING_NOT_TERMINATED_WARNING) return u8len;
    if (U_FAILURE(err)) return -1;
    return u8len;
}

int vk_icu_is_assigned(uint32_t scalar) { return u_charType((UChar32)scalar) != U_UNASSIGNED; }

struct vk_regex { URegularExpression *re; };

vk_regex *vk_regex_open(const char *pattern_utf8, char *error_out, int32_t error_cap) {
    UErrorCode err = U_ZERO_ERROR;
    UParseError pe;
    URegularExpression *re = uregex_openC(pattern_utf8, 0, &pe, &err);
    if (U_FAILURE(err)) {
        if (error_out && error_cap > 0) strncpy(error_out, u_errorName(err), (size_t)error_cap - 1);
        return NULL;
    }
    vk_regex *r = malloc(sizeof(vk_regex));
    r->re = re;
    return r;
}

int64_t vk_regex_split_utf8(vk_regex *r, const uint8_t *text, int64_t len, int64_t *ends, int64_t cap) {
    UErrorCode err = U_ZERO_ERROR;
    UText *ut = utext_openUTF8(NULL, (const char *)text, len, &err);
    if (U_FAILURE(err)) return -1;
    uregex_setUText(r->re, ut, &err);
    int64_t n = 0, last = 0;
    while (U_SUCCESS(err) && uregex_findNext(r->re, &err)) {
        int64_t s = uregex_start64(r->re, 0, &err), e = uregex_end64(r->re, 0, &err);
        if (s > last) { if (n >= cap) { n = -2; break; } ends[n++] = s; }
        if (e > s) { if (n >= cap) { n = -2; break; } ends[n++] = e; }
        last = e;
    }
    if (n >= 0 && last < len) { if (n >= cap) n = -2; else ends[n++] = len; }
    utext_close(ut);
    if (U_FAILURE(err)) return -1;
    return n;
}

void vk_regex_close(vk_regex *r) { if (r) { uregex_close(r->re); free(r); } }
