"""The word checksum of a synthetic model file, shared by the golden makers; SynthTests computes the same."""
import array
import sys


def checksum(path):
    """Σ word_i · (2i + 1) mod 2^64 over the file's little-endian 64-bit words (zero-padded)."""
    data = open(path, "rb").read()
    data += b"\0" * (-len(data) % 8)
    words = array.array("Q")
    words.frombytes(data)
    if sys.byteorder != "little":
        words.byteswap()
    total = 0
    for i, w in enumerate(words):
        total = (total + w * (2 * i + 1)) & 0xFFFFFFFFFFFFFFFF
    return total
