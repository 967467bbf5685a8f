// Byte scans for the tokenizer: class masks for the pre-tokenizer, UTF-8 validation, the NFC pre-check.
// ASCII is classified 16 or 32 bytes at a time (SSE2 everywhere on x86-64, AVX2 where the CPU has it); every
// other character goes through the class table in unicode_classes.c, so both paths give the table's classes
// (ASCII classes are fixed: letters A-Z a-z, numbers 0-9, whitespace \t \n \v \f \r and space; the tests
// check every byte against the table).
#include "text_scan.h"
#include "unicode_classes.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { LETTERS = 0, NUMBERS = 1, SPACES = 2, BREAKS = 3, OTHERS = 4 };

/// Masks of one 64-byte group of ASCII classes; bytes >= 0x80 are in `high` only.
typedef struct {
    uint64_t letter, number, space, newline, other, high, continuation, blank, apostrophe;
} group_masks;

static inline int utf8_length(uint8_t lead) { return lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

static inline uint32_t decode(const uint8_t *p, int length) {
    switch (length) {
    case 2: return (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    case 3: return (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    default:
        return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    }
}

static void group_scalar(const uint8_t *p, group_masks *m) {
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 64; k++) {
        uint8_t b = p[k];
        uint64_t bit = (uint64_t)1 << k;
        if (b >= 0x80) {
            m->high |= bit;
            if ((b & 0xC0) == 0x80) m->continuation |= bit;
        } else if ((uint8_t)((b | 0x20) - 'a') <= 25) {
            m->letter |= bit;
        } else if ((uint8_t)(b - '0') <= 9) {
            m->number |= bit;
        } else if (b == ' ' || (uint8_t)(b - 9) <= 4) {
            m->space |= bit;
            if (b == '\n' || b == '\r') m->newline |= bit;
            if (b == ' ') m->blank |= bit;
        } else {
            m->other |= bit;
            if (b == '\'') m->apostrophe |= bit;
        }
    }
}

#if defined(__x86_64__)
/// x <= limit (unsigned), per byte: saturating x - limit is zero.
static inline __m128i le_sse2(__m128i x, __m128i limit) { return _mm_cmpeq_epi8(_mm_subs_epu8(x, limit), _mm_setzero_si128()); }

static void group_sse2(const uint8_t *p, group_masks *m) {
    const __m128i x20 = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'), c25 = _mm_set1_epi8(25);
    const __m128i zero = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9), tab = _mm_set1_epi8(9), c4 = _mm_set1_epi8(4);
    const __m128i space = _mm_set1_epi8(' '), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    const __m128i top2 = _mm_set1_epi8((char)0xC0), cont = _mm_set1_epi8((char)0x80);
    const __m128i apos = _mm_set1_epi8('\'');
    uint64_t l = 0, d = 0, s = 0, nl = 0, h = 0, c = 0, bl = 0, ap = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        int shift = 16 * k;
        __m128i letter = le_sse2(_mm_sub_epi8(_mm_or_si128(v, x20), a), c25);
        __m128i digit = le_sse2(_mm_sub_epi8(v, zero), c9);
        __m128i ws = _mm_or_si128(_mm_cmpeq_epi8(v, space), le_sse2(_mm_sub_epi8(v, tab), c4));
        __m128i br = _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr));
        __m128i co = _mm_cmpeq_epi8(_mm_and_si128(v, top2), cont);
        l |= (uint64_t)(uint16_t)_mm_movemask_epi8(letter) << shift;
        d |= (uint64_t)(uint16_t)_mm_movemask_epi8(digit) << shift;
        s |= (uint64_t)(uint16_t)_mm_movemask_epi8(ws) << shift;
        nl |= (uint64_t)(uint16_t)_mm_movemask_epi8(br) << shift;
        h |= (uint64_t)(uint16_t)_mm_movemask_epi8(v) << shift;
        c |= (uint64_t)(uint16_t)_mm_movemask_epi8(co) << shift;
        bl |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, space)) << shift;
        ap |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, apos)) << shift;
    }
    // Bytes >= 0x80 can pass the letter test ((b | 0x20) - 'a' wraps for no high byte, but keep it explicit).
    m->letter = l & ~h;
    m->number = d & ~h;
    m->space = s & ~h;
    m->newline = nl;
    m->high = h;
    m->continuation = c;
    m->other = ~(m->letter | m->number | m->space | h);
    m->blank = bl;
    m->apostrophe = ap;
}

__attribute__((target("avx2")))
static inline __m256i le_avx2(__m256i x, __m256i limit) { return _mm256_cmpeq_epi8(_mm256_subs_epu8(x, limit), _mm256_setzero_si256()); }

__attribute__((target("avx2")))
static void group_avx2(const uint8_t *p, group_masks *m) {
    const __m256i x20 = _mm256_set1_epi8(0x20), a = _mm256_set1_epi8('a'), c25 = _mm256_set1_epi8(25);
    const __m256i zero = _mm256_set1_epi8('0'), c9 = _mm256_set1_epi8(9), tab = _mm256_set1_epi8(9), c4 = _mm256_set1_epi8(4);
    const __m256i space = _mm256_set1_epi8(' '), lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    const __m256i top2 = _mm256_set1_epi8((char)0xC0), cont = _mm256_set1_epi8((char)0x80);
    const __m256i apos = _mm256_set1_epi8('\'');
    uint64_t l = 0, d = 0, s = 0, nl = 0, h = 0, c = 0, bl = 0, ap = 0;
    for (int k = 0; k < 2; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
        int shift = 32 * k;
        __m256i letter = le_avx2(_mm256_sub_epi8(_mm256_or_si256(v, x20), a), c25);
        __m256i digit = le_avx2(_mm256_sub_epi8(v, zero), c9);
        __m256i ws = _mm256_or_si256(_mm256_cmpeq_epi8(v, space), le_avx2(_mm256_sub_epi8(v, tab), c4));
        __m256i br = _mm256_or_si256(_mm256_cmpeq_epi8(v, lf), _mm256_cmpeq_epi8(v, cr));
        __m256i co = _mm256_cmpeq_epi8(_mm256_and_si256(v, top2), cont);
        l |= (uint64_t)(uint32_t)_mm256_movemask_epi8(letter) << shift;
        d |= (uint64_t)(uint32_t)_mm256_movemask_epi8(digit) << shift;
        s |= (uint64_t)(uint32_t)_mm256_movemask_epi8(ws) << shift;
        nl |= (uint64_t)(uint32_t)_mm256_movemask_epi8(br) << shift;
        h |= (uint64_t)(uint32_t)_mm256_movemask_epi8(v) << shift;
        c |= (uint64_t)(uint32_t)_mm256_movemask_epi8(co) << shift;
        bl |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, space)) << shift;
        ap |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, apos)) << shift;
    }
    m->letter = l & ~h;
    m->number = d & ~h;
    m->space = s & ~h;
    m->newline = nl;
    m->high = h;
    m->continuation = c;
    m->other = ~(m->letter | m->number | m->space | h);
    m->blank = bl;
    m->apostrophe = ap;
}

__attribute__((target("avx512f,avx512bw")))
static void group_avx512(const uint8_t *p, group_masks *m) {
    __m512i v = _mm512_loadu_si512((const void *)p);
    uint64_t h = _mm512_movepi8_mask(v);
    uint64_t l = _mm512_cmple_epu8_mask(_mm512_sub_epi8(_mm512_or_si512(v, _mm512_set1_epi8(0x20)), _mm512_set1_epi8('a')),
                                        _mm512_set1_epi8(25));
    uint64_t d = _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('0')), _mm512_set1_epi8(9));
    uint64_t s = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' '))
               | _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(9)), _mm512_set1_epi8(4));
    uint64_t nl = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')) | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
    uint64_t c = _mm512_cmpeq_epi8_mask(_mm512_and_si512(v, _mm512_set1_epi8((char)0xC0)), _mm512_set1_epi8((char)0x80));
    uint64_t bl = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' '));
    uint64_t ap = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\''));
    m->letter = l & ~h;
    m->number = d & ~h;
    m->space = s & ~h;
    m->newline = nl;
    m->high = h;
    m->continuation = c;
    m->other = ~(m->letter | m->number | m->space | h);
    m->blank = bl;
    m->apostrophe = ap;
}

/// 2: AVX-512BW, 1: AVX2, 0: SSE2.
static int vector_level(void) {
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx512bw") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    return known;
}
#endif

static inline void classify_group(const uint8_t *p, group_masks *m) {
#if defined(__x86_64__)
    switch (vector_level()) {
    case 2: group_avx512(p, m); break;
    case 1: group_avx2(p, m); break;
    default: group_sse2(p, m);
    }
#else
    group_scalar(p, m);
#endif
}

/// Sets bits [from, to) of the mask array (bit positions relative to its start).
static inline void set_bits(uint64_t *mask, size_t from, size_t to) {
    while (from < to) {
        size_t w = from >> 6, b = from & 63;
        size_t count = to - from < 64 - b ? to - from : 64 - b;
        uint64_t bits = count == 64 ? ~(uint64_t)0 : (((uint64_t)1 << count) - 1) << b;
        mask[w] |= bits;
        from += count;
    }
}

void vk_class_masks(const uint8_t *p, size_t n, size_t readable, int marks_join_letters, uint64_t *masks, size_t words) {
    if (n > 64 * words) n = 64 * words;
    if (n > 64 * 128) n = 64 * 128;  // lead_bits below
    uint64_t *letters = masks, *numbers = masks + words, *spaces = masks + 2 * words, *breaks = masks + 3 * words,
             *others = masks + 4 * words, *blanks = masks + 5 * words, *apostrophes = masks + 6 * words,
             *starts = masks + 7 * words;
    size_t groups = (n + 63) / 64;
    uint8_t tail[64];
    uint64_t lead_bits[128];  // first bytes of non-ASCII characters, per group (words <= 128)
    uint64_t any_high = 0;
    // ASCII first, every group; then the other characters, whose bits may run into the next group.
    for (size_t g = 0; g < groups; g++) {
        const uint8_t *q = p + 64 * g;
        size_t valid = n - 64 * g < 64 ? n - 64 * g : 64;
        group_masks m;
        if (readable - 64 * g >= 64) {
            classify_group(q, &m);
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, q, readable - 64 * g);
            classify_group(tail, &m);
        }
        uint64_t keep = valid == 64 ? ~(uint64_t)0 : ((uint64_t)1 << valid) - 1;
        letters[g] = m.letter & keep;
        numbers[g] = m.number & keep;
        spaces[g] = m.space & keep;
        breaks[g] = m.newline & keep;
        others[g] = m.other & keep;
        blanks[g] = m.blank & keep;
        apostrophes[g] = m.apostrophe & keep;
        starts[g] = ~m.continuation & keep;
        lead_bits[g] = m.high & ~m.continuation & keep;
        any_high |= lead_bits[g];
    }
    for (size_t g = groups; g < words; g++) {
        letters[g] = numbers[g] = spaces[g] = breaks[g] = others[g] = blanks[g] = apostrophes[g] = starts[g] = 0;
    }
    if (!any_high) return;
    for (size_t g = 0; g < groups; g++) {
        uint64_t leads = lead_bits[g];
        while (leads) {
            size_t j = 64 * g + (size_t)__builtin_ctzll(leads);
            leads &= leads - 1;
            int length = utf8_length(p[j]);
            if (j + (size_t)length > readable) break;  // cannot happen in valid UTF-8 read to its end
            uint8_t bits = vk_unicode_class(decode(p + j, length));
            int k = bits & VK_CLASS_MASK;
            if (marks_join_letters && (bits & VK_MARK)) k = VK_LETTER;
            uint64_t *target = k == VK_LETTER ? letters : k == VK_NUMBER ? numbers : k == VK_SPACE ? spaces : others;
            size_t end = j + (size_t)length < n ? j + (size_t)length : n;
            set_bits(target, j, end);
        }
    }
}

size_t vk_end_of_ascii(const uint8_t *p, size_t from, size_t n) {
    size_t i = from;
#if defined(__x86_64__)
    while (i + 32 <= n) {
        __m128i a = _mm_loadu_si128((const __m128i *)(p + i)), b = _mm_loadu_si128((const __m128i *)(p + i + 16));
        int high = _mm_movemask_epi8(_mm_or_si128(a, b));
        if (high) {
            int low = _mm_movemask_epi8(a);
            return i + (size_t)(low ? __builtin_ctz((unsigned)low) : 16 + __builtin_ctz((unsigned)_mm_movemask_epi8(b)));
        }
        i += 32;
    }
#endif
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w &= 0x8080808080808080ull;
        if (w) return i + (size_t)(__builtin_ctzll(w) >> 3);
        i += 8;
    }
    while (i < n && p[i] < 0x80) i++;
    return i;
}

size_t vk_utf8_first_invalid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (1) {
        i = vk_end_of_ascii(p, i, n);
        if (i == n) return n;
        // Characters one after another while the text stays non-ASCII (CJK, Cyrillic...).
        while (i < n && p[i] >= 0x80) {
            uint8_t b0 = p[i];
            if (b0 >= 0xE1 && b0 <= 0xEF && b0 != 0xED) {  // the common three-byte case
                if (i + 2 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80) return i;
                i += 3;
                continue;
            }
            size_t need;
            uint8_t lo = 0x80, hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) need = 1;
            else if (b0 == 0xE0) { need = 2; lo = 0xA0; }
            else if (b0 == 0xED) { need = 2; hi = 0x9F; }
            else if (b0 == 0xF0) { need = 3; lo = 0x90; }
            else if (b0 >= 0xF1 && b0 <= 0xF3) need = 3;
            else if (b0 == 0xF4) { need = 3; hi = 0x8F; }
            else return i;
            if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return i;
            for (size_t k = 2; k <= need; k++) {
                if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return i;
            }
            i += need + 1;
        }
    }
}

size_t vk_first_nfc_unsafe(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (1) {
        i = vk_end_of_ascii(p, i, n);
        if (i == n) return n;
        while (i < n && p[i] >= 0x80) {
            uint8_t b0 = p[i];
            int length = utf8_length(b0);
            if (vk_unicode_class(decode(p + i, length)) & VK_NFC_UNSAFE) return i;
            i += (size_t)length;
        }
    }
}
