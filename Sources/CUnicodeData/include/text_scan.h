#ifndef VOCABKIT_TEXT_SCAN_H
#define VOCABKIT_TEXT_SCAN_H
#include <stddef.h>
#include <stdint.h>

/// Class masks of a stretch of text, one bit per byte (bit k of word w is byte 64w + k), in eight arrays of
/// `words` words laid out one after the other at `masks`: letters, numbers, whitespace, line breaks (\r, \n),
/// other, spaces (0x20 only), apostrophes (0x27) and the first bytes of characters. Every byte of a
/// character carries the character's class (marks count as letters when `marks_join_letters`); bytes at or
/// past `n` are in no mask. `p[0..<readable]` may be read (readable >= n,
/// so a character cut by `n` is still classified). n <= 64 * words; p[0] starts a character. Callers that load
/// a word at any bit offset keep n <= 64 * (words - 1), so that each array ends with a zero word. words <= 128.
void vk_class_masks(const uint8_t *p, size_t n, size_t readable, int marks_join_letters, uint64_t *masks,
                    size_t words);

/// Offset of the first byte that does not start or continue a well-formed UTF-8 sequence, or n.
size_t vk_utf8_first_invalid(const uint8_t *p, size_t n);

/// Offset of the first character that may change under NFC (valid UTF-8), or n.
size_t vk_first_nfc_unsafe(const uint8_t *p, size_t n);

/// Offset of the first byte >= 0x80 at or after `from`, or n.
size_t vk_end_of_ascii(const uint8_t *p, size_t from, size_t n);

/// Asks for the cache line at `p` ahead of its use (the tokenizer's tables are megabytes: a probe that has to
/// wait for memory costs as much as the rest of a piece).
static inline void vk_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
