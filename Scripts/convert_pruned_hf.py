#!/usr/bin/env python3
"""Runs llama.cpp's convert_hf_to_gguf.py on a checkpoint that `vocabkit prune` wrote.

convert_hf_to_gguf.py names the pre-tokenizer (GGUF `tokenizer.ggml.pre`) by hashing the token ids its
tokenizer gives for a fixed text. Pruning renumbers the ids, so the hash of a pruned Qwen tokenizer is one
it does not know, and it stops with "BPE pre-tokenizer was not recognized". The pre-tokenizer itself is
unchanged: this wrapper asks the converter first and, only when it does not recognise the hash, checks that
tokenizer.json's pre_tokenizer is exactly Qwen's (NFC, Qwen's split regex, ByteLevel) and answers 'qwen2',
the name the converter gives the unpruned Qwen2/2.5/3 tokenizers. Everything else is the converter's own.

Usage: convert_pruned_hf.py LLAMA_CPP_DIR CHECKPOINT_DIR [convert_hf_to_gguf.py options, e.g. --outfile X.gguf]
"""
import json, os, runpy, sys

QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
QWEN_PRE_TOKENIZER = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": QWEN_SPLIT}, "behavior": "Isolated", "invert": False}, BYTE_LEVEL]}


def without_offsets(value):
    """The pre-tokenizer without `trim_offsets`, which changes offsets but never ids."""
    if isinstance(value, dict):
        return {k: without_offsets(v) for k, v in value.items() if k != "trim_offsets"}
    if isinstance(value, list):
        return [without_offsets(v) for v in value]
    return value


def is_qwen_tokenizer(checkpoint):
    doc = json.load(open(os.path.join(checkpoint, "tokenizer.json"), encoding="utf-8"))
    return (doc.get("normalizer") == {"type": "NFC"}
            and without_offsets(doc.get("pre_tokenizer")) == without_offsets(QWEN_PRE_TOKENIZER))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    llama, checkpoint = sys.argv[1], sys.argv[2]
    script = os.path.join(llama, "convert_hf_to_gguf.py")
    sys.path.insert(0, llama)
    sys.path.insert(1, os.path.join(llama, "gguf-py"))
    import conversion.base as base

    recognise = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer):
        try:
            return recognise(self, tokenizer)
        except NotImplementedError:
            if not is_qwen_tokenizer(checkpoint):
                raise
            base.logger.info("pre-tokenizer hash unknown (pruned ids); tokenizer.json has Qwen's pre-tokenizer: qwen2")
            return "qwen2"

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    sys.argv = [script, checkpoint] + sys.argv[3:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
