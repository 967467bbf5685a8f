// Byte scans for the tokenizer: class masks for the pre-tokenizer, UTF-8 validation, the NFC pre-check.
// ASCII is classified 16 or 32 bytes at a time (SSE2 everywhere on x86-64, AVX2 where the CPU has it); every
// other character goes through the class table in unicode_classes.c, so both paths give the table's classes
// (ASCII classes are fixed: letters A-Z a-z, numbers 0-9, whitespace \t \n \v \f \r and space; the tests
// check every byte against the table).
#include "text_scan.h"
#include "unicode_classes.h"
#include <pthread.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { LETTERS = 0, NUMBERS = 1, SPACES = 2, BREAKS = 3, OTHERS = 4 };

/// Masks of one 64-byte group of ASCII classes; bytes >= 0x80 are in `high` only.
typedef struct {
    uint64_t letter, number, space, newline, other, high, continuation, blank, apostrophe;
    /// First bytes of two- and three-byte characters whose first byte alone makes them letters (lead_class),
    /// found with a nibble lookup where the CPU has one (0 elsewhere: the characters go one by one).
    uint64_t letter_lead2, letter_lead3;
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

/// Per first byte of a multi-byte character: 0x80 | the class bits every character starting with it shares,
/// or 0 when they differ (and for four-byte characters, too many to check); and whether every character
/// starting with it is stable under NFC. Derived from the class table once per process.
static uint8_t lead_class[256];
static uint8_t lead_nfc_stable[256];
static pthread_once_t lead_tables_once = PTHREAD_ONCE_INIT;

static void make_lead_tables(void) {
    for (int lead = 0xC2; lead <= 0xEF; lead++) {
        uint32_t first, count;
        if (lead < 0xE0) { first = (uint32_t)(lead & 0x1F) << 6; count = 64; }
        else { first = (uint32_t)(lead & 0x0F) << 12; count = 4096; }
        if (lead == 0xE0) { first = 0x800; count = 0x800; }            // E0 A0..BF: no overlong forms
        if (lead == 0xED) { count = 0x800; }                          // ED 80..9F: no surrogates
        uint8_t bits = vk_unicode_class(first);
        int uniform = 1, stable = 1;
        for (uint32_t c = first; c < first + count; c++) {
            uint8_t b = vk_unicode_class(c);
            if (b != bits) uniform = 0;
            if (b & VK_NFC_UNSAFE) stable = 0;
        }
        lead_class[lead] = uniform ? (uint8_t)(0x80 | bits) : 0;
        lead_nfc_stable[lead] = (uint8_t)stable;
    }
}

/// The same facts as nibble tables for vector lookups, for first bytes C0-CF, D0-DF and E0-EF: 0xFF where
/// every character is a letter (`letter_nibbles`) or NFC-stable (`stable_nibbles`).
static uint8_t letter_nibbles[3][16] __attribute__((aligned(16)));
static uint8_t stable_nibbles[3][16] __attribute__((aligned(16)));

static void make_nibble_tables(void) {
    for (int lead = 0xC0; lead <= 0xEF; lead++) {
        int row = (lead >> 4) - 0xC, nibble = lead & 0x0F;
        letter_nibbles[row][nibble] = (lead_class[lead] & 0x80) && (lead_class[lead] & VK_CLASS_MASK) == VK_LETTER ? 0xFF : 0;
        stable_nibbles[row][nibble] = lead_nfc_stable[lead] ? 0xFF : 0;
    }
}

static void make_all_lead_tables(void) {
    make_lead_tables();
    make_nibble_tables();
}

static inline void lead_tables(void) { pthread_once(&lead_tables_once, make_all_lead_tables); }

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
/// The group's masks from the vector classifiers' raw bits (letters, digits, whitespace, line ends, high bytes,
/// continuation bytes, blanks, apostrophes): high bytes are taken out of the ASCII classes, and "other" is
/// what no class holds.
static inline void store_classes(group_masks *m, uint64_t l, uint64_t d, uint64_t s, uint64_t nl, uint64_t h,
                                 uint64_t c, uint64_t bl, uint64_t ap) {
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
    store_classes(m, l, d, s, nl, h, c, bl, ap);
    m->letter_lead2 = m->letter_lead3 = 0;
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
    store_classes(m, l, d, s, nl, h, c, bl, ap);
    // Letter leads: a nibble lookup per row (C0-CF, D0-DF, E0-EF).
    const __m256i low4 = _mm256_set1_epi8(0x0F), high4 = _mm256_set1_epi8((char)0xF0);
    const __m256i tc = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)letter_nibbles[0]));
    const __m256i td = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)letter_nibbles[1]));
    const __m256i te = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)letter_nibbles[2]));
    uint64_t l2 = 0, l3 = 0;
    if (h) {
        for (int k = 0; k < 2; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
            __m256i nib = _mm256_and_si256(v, low4), top = _mm256_and_si256(v, high4);
            __m256i two = _mm256_or_si256(
                _mm256_and_si256(_mm256_cmpeq_epi8(top, _mm256_set1_epi8((char)0xC0)), _mm256_shuffle_epi8(tc, nib)),
                _mm256_and_si256(_mm256_cmpeq_epi8(top, _mm256_set1_epi8((char)0xD0)), _mm256_shuffle_epi8(td, nib)));
            __m256i three = _mm256_and_si256(_mm256_cmpeq_epi8(top, _mm256_set1_epi8((char)0xE0)), _mm256_shuffle_epi8(te, nib));
            l2 |= (uint64_t)(uint32_t)_mm256_movemask_epi8(two) << (32 * k);
            l3 |= (uint64_t)(uint32_t)_mm256_movemask_epi8(three) << (32 * k);
        }
    }
    m->letter_lead2 = l2;
    m->letter_lead3 = l3;
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
    store_classes(m, l, d, s, nl, h, c, bl, ap);
    const __m512i low4 = _mm512_set1_epi8(0x0F), high4 = _mm512_set1_epi8((char)0xF0);
    __m512i nib = _mm512_and_si512(v, low4), top = _mm512_and_si512(v, high4);
    __m512i tc = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)letter_nibbles[0]));
    __m512i td = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)letter_nibbles[1]));
    __m512i te = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)letter_nibbles[2]));
    m->letter_lead2 = (_mm512_cmpeq_epi8_mask(top, _mm512_set1_epi8((char)0xC0)) & _mm512_movepi8_mask(_mm512_shuffle_epi8(tc, nib)))
                    | (_mm512_cmpeq_epi8_mask(top, _mm512_set1_epi8((char)0xD0)) & _mm512_movepi8_mask(_mm512_shuffle_epi8(td, nib)));
    m->letter_lead3 = _mm512_cmpeq_epi8_mask(top, _mm512_set1_epi8((char)0xE0)) & _mm512_movepi8_mask(_mm512_shuffle_epi8(te, nib));
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

void vk_class_masks(const uint8_t *p, size_t n, size_t readable, int marks_join_letters, uint64_t *masks, size_t words) {
    if (n > 64 * words) n = 64 * words;
    if (n > 64 * 128) n = 64 * 128;  // lead_bits below
    uint64_t *letters = masks, *numbers = masks + words, *spaces = masks + 2 * words, *breaks = masks + 3 * words,
             *others = masks + 4 * words, *blanks = masks + 5 * words, *apostrophes = masks + 6 * words,
             *starts = masks + 7 * words;
    size_t groups = (n + 63) / 64;
    uint8_t tail[64];
    uint64_t lead_bits[128];  // first bytes of non-ASCII characters, per group (words <= 128)
    uint64_t any_high = 0, letter_carry = 0;
    lead_tables();
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
        // Characters whose first byte makes them letters: all their bytes at once.
        uint64_t l2 = m.letter_lead2 & keep, l3 = m.letter_lead3 & keep;
        letters[g] |= (l2 | l2 << 1 | l3 | l3 << 1 | l3 << 2 | letter_carry) & keep;
        letter_carry = l2 >> 63 | l3 >> 63 | l3 >> 62;
        lead_bits[g] = m.high & ~m.continuation & keep & ~(l2 | l3);
        any_high |= lead_bits[g];
    }
    for (size_t g = groups; g < words; g++) {
        letters[g] = numbers[g] = spaces[g] = breaks[g] = others[g] = blanks[g] = apostrophes[g] = starts[g] = 0;
    }
    if (!any_high) return;
    uint64_t *by_class[4] = {others, letters, numbers, spaces};  // indexed by VK_OTHER, VK_LETTER, ...
    for (size_t g = 0; g < groups; g++) {
        uint64_t leads = lead_bits[g];
        while (leads) {
            size_t j = 64 * g + (size_t)__builtin_ctzll(leads);
            leads &= leads - 1;
            int length = utf8_length(p[j]);
            if (j + (size_t)length > readable) break;  // cannot happen in valid UTF-8 read to its end
            uint8_t bits = lead_class[p[j]];
            if (!bits) bits = vk_unicode_class(decode(p + j, length));
            int k = bits & VK_CLASS_MASK;
            if (marks_join_letters && (bits & VK_MARK)) k = VK_LETTER;
            size_t covered = j + (size_t)length <= n ? (size_t)length : n - j;
            uint64_t run = ((uint64_t)1 << covered) - 1;
            size_t w = j >> 6, at = j & 63;
            uint64_t *target = by_class[k];
            target[w] |= run << at;
            if (at + covered > 64) target[w + 1] |= run >> (64 - at);
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

static size_t utf8_first_invalid_scalar(const uint8_t *p, size_t n) {
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

/// UTF-8 structure of one 64-byte group, one bit per byte.
typedef struct {
    uint64_t high, continuation, lead2, lead3, lead4, e0, ed, f0, f4, low_80_9f, low_80_8f;
} utf8_masks;

static void utf8_group_scalar(const uint8_t *p, utf8_masks *m) {
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 64; k++) {
        uint8_t b = p[k];
        uint64_t bit = (uint64_t)1 << k;
        if (b < 0x80) continue;
        m->high |= bit;
        if (b <= 0xBF) m->continuation |= bit;
        if (b >= 0xC2 && b <= 0xDF) m->lead2 |= bit;
        if (b >= 0xE0 && b <= 0xEF) m->lead3 |= bit;
        if (b >= 0xF0 && b <= 0xF4) m->lead4 |= bit;
        if (b == 0xE0) m->e0 |= bit;
        if (b == 0xED) m->ed |= bit;
        if (b == 0xF0) m->f0 |= bit;
        if (b == 0xF4) m->f4 |= bit;
        if (b <= 0x9F) m->low_80_9f |= bit;
        if (b <= 0x8F) m->low_80_8f |= bit;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static inline uint64_t in_range_avx2(__m256i v0, __m256i v1, uint8_t lo, uint8_t hi) {
    const __m256i l = _mm256_set1_epi8((char)lo), span = _mm256_set1_epi8((char)(hi - lo));
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(le_avx2(_mm256_sub_epi8(v0, l), span))
         | (uint64_t)(uint32_t)_mm256_movemask_epi8(le_avx2(_mm256_sub_epi8(v1, l), span)) << 32;
}

__attribute__((target("avx2")))
static void utf8_group_avx2(const uint8_t *p, utf8_masks *m) {
    __m256i v0 = _mm256_loadu_si256((const __m256i *)p), v1 = _mm256_loadu_si256((const __m256i *)(p + 32));
    m->high = (uint64_t)(uint32_t)_mm256_movemask_epi8(v0) | (uint64_t)(uint32_t)_mm256_movemask_epi8(v1) << 32;
    if (!m->high) return;
    m->continuation = in_range_avx2(v0, v1, 0x80, 0xBF);
    m->lead2 = in_range_avx2(v0, v1, 0xC2, 0xDF);
    m->lead3 = in_range_avx2(v0, v1, 0xE0, 0xEF);
    m->lead4 = in_range_avx2(v0, v1, 0xF0, 0xF4);
    m->e0 = in_range_avx2(v0, v1, 0xE0, 0xE0);
    m->ed = in_range_avx2(v0, v1, 0xED, 0xED);
    m->f0 = in_range_avx2(v0, v1, 0xF0, 0xF0);
    m->f4 = in_range_avx2(v0, v1, 0xF4, 0xF4);
    m->low_80_9f = in_range_avx2(v0, v1, 0x80, 0x9F);
    m->low_80_8f = in_range_avx2(v0, v1, 0x80, 0x8F);
}

__attribute__((target("avx512f,avx512bw")))
static inline uint64_t in_range_avx512(__m512i v, uint8_t lo, uint8_t hi) {
    return _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8((char)lo)), _mm512_set1_epi8((char)(hi - lo)));
}

__attribute__((target("avx512f,avx512bw")))
static void utf8_group_avx512(const uint8_t *p, utf8_masks *m) {
    __m512i v = _mm512_loadu_si512((const void *)p);
    m->high = _mm512_movepi8_mask(v);
    if (!m->high) return;
    m->continuation = in_range_avx512(v, 0x80, 0xBF);
    m->lead2 = in_range_avx512(v, 0xC2, 0xDF);
    m->lead3 = in_range_avx512(v, 0xE0, 0xEF);
    m->lead4 = in_range_avx512(v, 0xF0, 0xF4);
    m->e0 = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8((char)0xE0));
    m->ed = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8((char)0xED));
    m->f0 = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8((char)0xF0));
    m->f4 = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8((char)0xF4));
    m->low_80_9f = in_range_avx512(v, 0x80, 0x9F);
    m->low_80_8f = in_range_avx512(v, 0x80, 0x8F);
}
#endif

/// Checks 64 bytes at a time: every lead byte's continuation bytes are exactly the continuation bytes there
/// are, no byte is C0, C1 or F5-FF, and the second byte after E0, ED, F0 and F4 is in range (no overlong
/// forms, surrogates or scalars past U+10FFFF). A group that fails (or a truncated end) sends the whole
/// text to the byte-by-byte check, which finds the first bad offset.
size_t vk_utf8_first_invalid(const uint8_t *p, size_t n) {
#if defined(__x86_64__)
    int level = vector_level();
#endif
    uint64_t need = 0;     // continuation bytes the previous group's leads require here
    uint64_t special = 0;  // E0/ED/F0/F4 at the previous group's last byte (bits 0-3 for each)
    uint8_t tail[64];
    for (size_t at = 0; at < n; at += 64) {
        const uint8_t *q = p + at;
        if (n - at < 64) {
            memset(tail, 0, sizeof tail);
            memcpy(tail, q, n - at);
            q = tail;
        }
        utf8_masks m;
#if defined(__x86_64__)
        if (level == 2) utf8_group_avx512(q, &m);
        else if (level == 1) utf8_group_avx2(q, &m);
        else utf8_group_scalar(q, &m);
#else
        utf8_group_scalar(q, &m);
#endif
        if (!m.high) {
            if (need) return utf8_first_invalid_scalar(p, n);
            special = 0;
            continue;
        }
        uint64_t leads = m.lead2 | m.lead3 | m.lead4, longer = m.lead3 | m.lead4;
        uint64_t required = leads << 1 | longer << 2 | m.lead4 << 3 | need;
        uint64_t bad = m.high & ~m.continuation & ~leads;                         // C0, C1, F5-FF
        uint64_t second_low = (m.e0 << 1 | (special & 1)) & m.low_80_9f;          // E0 80-9F: overlong
        uint64_t second_high = (m.ed << 1 | (special >> 1 & 1)) & m.continuation & ~m.low_80_9f;  // ED A0-BF
        uint64_t f0_low = (m.f0 << 1 | (special >> 2 & 1)) & m.low_80_8f;         // F0 80-8F: overlong
        uint64_t f4_high = (m.f4 << 1 | (special >> 3 & 1)) & m.continuation & ~m.low_80_8f;  // past U+10FFFF
        if (bad | (required ^ m.continuation) | second_low | second_high | f0_low | f4_high) {
            return utf8_first_invalid_scalar(p, n);
        }
        need = leads >> 63 | longer >> 62 | m.lead4 >> 61;
        special = (m.e0 >> 63) | (m.ed >> 63) << 1 | (m.f0 >> 63) << 2 | (m.f4 >> 63) << 3;
    }
    // A sequence cut by the end (in the last group the zero padding already fails it).
    return need ? utf8_first_invalid_scalar(p, n) : n;
}

#if defined(__x86_64__)
/// First bytes in 64 bytes whose characters may not all be NFC-stable (every byte F0-F4, and C0-EF where
/// `stable_nibbles` says so).
__attribute__((target("avx2")))
static uint64_t unstable_leads_avx2(const uint8_t *p) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), high4 = _mm256_set1_epi8((char)0xF0);
    const __m256i tc = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)stable_nibbles[0]));
    const __m256i td = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)stable_nibbles[1]));
    const __m256i te = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)stable_nibbles[2]));
    uint64_t unstable = 0;
    for (int k = 0; k < 2; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
        if (!_mm256_movemask_epi8(v)) continue;
        __m256i nib = _mm256_and_si256(v, low4), top = _mm256_and_si256(v, high4);
        __m256i stable = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(_mm256_cmpeq_epi8(top, _mm256_set1_epi8((char)0xC0)), _mm256_shuffle_epi8(tc, nib)),
                            _mm256_and_si256(_mm256_cmpeq_epi8(top, _mm256_set1_epi8((char)0xD0)), _mm256_shuffle_epi8(td, nib))),
            _mm256_and_si256(_mm256_cmpeq_epi8(top, _mm256_set1_epi8((char)0xE0)), _mm256_shuffle_epi8(te, nib)));
        // C0-FF: signed, -64..-1.
        __m256i lead = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8((char)0xBF)),
                                        _mm256_cmpgt_epi8(_mm256_setzero_si256(), v));
        unstable |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_andnot_si256(stable, lead)) << (32 * k);
    }
    return unstable;
}
#endif

size_t vk_first_nfc_unsafe(const uint8_t *p, size_t n) {
    lead_tables();
    size_t i = 0;
#if defined(__x86_64__)
    if (vector_level() >= 1) {
        for (; i + 64 <= n; i += 64) {
            uint64_t unstable = unstable_leads_avx2(p + i);
            while (unstable) {
                size_t j = i + (size_t)__builtin_ctzll(unstable);
                unstable &= unstable - 1;
                if (vk_unicode_class(decode(p + j, utf8_length(p[j]))) & VK_NFC_UNSAFE) return j;
            }
        }
        // The rest byte by byte, from the first character start at or after i.
        while (i < n && (p[i] & 0xC0) == 0x80) i++;
    }
#endif
    while (1) {
        i = vk_end_of_ascii(p, i, n);
        if (i == n) return n;
        while (i < n && p[i] >= 0x80) {
            uint8_t b0 = p[i];
            int length = utf8_length(b0);
            if (!lead_nfc_stable[b0] && (vk_unicode_class(decode(p + i, length)) & VK_NFC_UNSAFE)) return i;
            i += (size_t)length;
        }
    }
}
