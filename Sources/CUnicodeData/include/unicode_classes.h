#ifndef VOCABKIT_UNICODE_CLASSES_H
#define VOCABKIT_UNICODE_CLASSES_H
#include <stdint.h>

/// Bits 0-1: the class (other, \p{L}, \p{N}, \s); bit 2: may change under NFC; bit 3: \p{M} (only with class
/// other: marks are neither letters, numbers nor spaces).
enum { VK_OTHER = 0, VK_LETTER = 1, VK_NUMBER = 2, VK_SPACE = 3, VK_CLASS_MASK = 3, VK_NFC_UNSAFE = 4, VK_MARK = 8 };

extern const uint16_t vk_class_stage1[0x1100];
extern const uint8_t vk_class_stage2[];
extern const char vk_unicode_tables_version[];

/// Class bits of a Unicode scalar (see gen/make_tables.c). Inline so Swift's hot loops pay no call.
static inline uint8_t vk_unicode_class(uint32_t scalar) {
    if (scalar > 0x10FFFF) return VK_OTHER;
    return vk_class_stage2[((uint32_t)vk_class_stage1[scalar >> 8] << 8) | (scalar & 0xFF)];
}

/// Class bits of an ASCII byte (block 0 of the table covers U+0000-U+00FF).
static inline uint8_t vk_ascii_class(uint8_t byte) { return vk_class_stage2[byte]; }
#endif
