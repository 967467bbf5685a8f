#ifndef VOCABKIT_CICU_H
#define VOCABKIT_CICU_H
#include <stdint.h>

/// NFC-normalizes UTF-8 `src[0..<len]` into `dst` (capacity `cap` bytes).
/// Returns the byte length of the result; if it exceeds `cap`, nothing useful was written and the caller
/// retries with a larger buffer. Returns -1 on an ICU error (invalid input).
int64_t vk_nfc_utf8(const uint8_t *src, int64_t len, uint8_t *dst, int64_t cap);

/// Whether ICU's Unicode version assigns the code point (tests skip text where versions disagree).
int vk_icu_is_assigned(uint32_t scalar);

/// A compiled ICU regular expression, used as an independent reference for the pre-tokenizer in tests.
typedef struct vk_regex vk_regex;
vk_regex *vk_regex_open(const char *pattern_utf8, char *error_out, int32_t error_cap);
/// Splits UTF-8 text into consecutive matches; writes the UTF-8 byte end of each match into `ends`.
/// Returns the number of matches, or -1 on error, or -2 if `cap` is too small. Text not covered by a
/// match is reported as its own piece (as an "isolated" split does).
int64_t vk_regex_split_utf8(vk_regex *re, const uint8_t *text, int64_t len, int64_t *ends, int64_t cap);
void vk_regex_close(vk_regex *re);
#endif
