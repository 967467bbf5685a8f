"""Makes the Hugging Face checkpoints the round-trip test prunes: tiny random-weight Qwen3 and Qwen2 models
built and saved by `transformers` itself, with Qwen's real tokenizer files.

Tokenizer: tokenizer.json is built from Qwen's real BPE ranks (.build-oracle/qwen.tiktoken, the
dashscope==2.0.2 wheel's copy, sha256-checked by setup-oracle.sh) by Tests/Oracle/qwen_reference.py and saved
by HF `tokenizers` with Qwen's pipeline (NFC, the Qwen split regex, ByteLevel; specials as added tokens);
tokenizer_config.json has the fields Qwen ships and the chat template from llama.cpp's models/templates/
(Qwen-Qwen3-0.6B.jinja and Qwen-Qwen2.5-7B-Instruct.jinja, out of the sha256-pinned llama-cpp-python 0.3.36
sdist, see Tests/Fixtures/llama-vocab/fetch.sh --convert). vocab.json and merges.txt are written beside
them as Qwen ships them. Qwen3 checkpoints get 26 special tokens (vocab_size 151,936 rows for 151,669 ids);
Qwen2 ones 22 (Qwen2.5's; 151,665 ids) and store merges as "a b" strings, the older tokenizer.json form.

Usage: hf_checkpoints.py OUT_DIR [--templates DIR] [--tiktoken PATH] [--shape tiny|qwen3-0.6b]
"""
import argparse, json, os, shutil, sys

import torch
from tokenizers import processors
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import qwen_reference  # noqa: E402
sys.path.insert(0, os.path.join(common.ROOT, "Vocab"))
import make_vocab  # noqa: E402

VOCAB_ROWS = 151936
FIRST_SPECIAL = 151643

# name: (architecture, tied, dtype, sharded) — each property takes both values across the four.
VARIANTS = {
    "qwen3-tied-bf16-single": ("qwen3", True, torch.bfloat16, False),
    "qwen3-untied-f32-sharded": ("qwen3", False, torch.float32, True),
    "qwen2-untied-bf16-sharded": ("qwen2", False, torch.bfloat16, True),
    "qwen2-tied-f32-single": ("qwen2", True, torch.float32, False),
}


def tokenizer_files(out, arch, tiktoken, template):
    specials = make_vocab.SPECIALS if arch == "qwen3" else make_vocab.SPECIALS[:22]
    tok = qwen_reference.build(tiktoken, special_tokens=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(t, normalized=False, special=bool(f)) for t, f in specials])
    tok.save(os.path.join(out, "tokenizer.json"))
    doc = json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8"))
    # The ByteLevel parameters exactly as Qwen's published tokenizer.json has them (they change no id).
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    doc["pre_tokenizer"]["pretokenizers"][1] = byte_level
    doc["decoder"] = dict(byte_level)
    merges = [m if isinstance(m, list) else m.split(" ", 1) for m in doc["model"]["merges"]]
    if arch == "qwen2":  # the older "a b" form
        doc["model"]["merges"] = [" ".join(m) for m in merges]
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
    vocab = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(vocab), ensure_ascii=False, separators=(",", ":")))
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    decoder = {str(FIRST_SPECIAL + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                        "single_word": False, "special": bool(s)} for i, (t, s) in enumerate(specials)}
    config = {
        "add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
        "additional_special_tokens": [t for t, _ in specials[1:14]], "bos_token": None,
        "chat_template": open(template, encoding="utf-8").read(), "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 131072, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def make(out, arch, tied, dtype, sharded, tiktoken, templates, shape="tiny", seed=0):
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    dims = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                head_dim=16)
    if shape == "qwen3-0.6b":
        dims = dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                    num_key_value_heads=8, head_dim=128)
    common_args = dict(vocab_size=VOCAB_ROWS, max_position_embeddings=40960, tie_word_embeddings=tied,
                       bos_token_id=FIRST_SPECIAL, eos_token_id=FIRST_SPECIAL + 2 if arch == "qwen3" else FIRST_SPECIAL,
                       rope_theta=1000000.0, rms_norm_eps=1e-06)
    torch.manual_seed(seed)
    if arch == "qwen3":
        model = Qwen3ForCausalLM(Qwen3Config(**dims, **common_args))
        template = os.path.join(templates, "Qwen-Qwen3-0.6B.jinja")
    else:
        dims.pop("head_dim")
        model = Qwen2ForCausalLM(Qwen2Config(**dims, **common_args))
        template = os.path.join(templates, "Qwen-Qwen2.5-7B-Instruct.jinja")
    model = model.to(dtype)
    model.generation_config = GenerationConfig(bos_token_id=FIRST_SPECIAL, eos_token_id=[FIRST_SPECIAL + 2, FIRST_SPECIAL],
                                               pad_token_id=FIRST_SPECIAL, do_sample=True, temperature=0.6, top_k=20, top_p=0.95)
    model.save_pretrained(out, max_shard_size="12MB" if sharded else "50GB")
    tokenizer_files(out, arch, tiktoken, template)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"Random-weight {arch} test checkpoint made by Tests/Oracle/hf_checkpoints.py (not a trained model).\n")
    with open(os.path.join(out, "LICENSE"), "w") as f:
        f.write("Test data; the tokenizer is Qwen's (Apache-2.0).\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--templates", default=os.path.join(common.ROOT, ".build-testdata", "llama-convert", "templates"))
    ap.add_argument("--tiktoken")
    ap.add_argument("--shape", default="tiny", choices=["tiny", "qwen3-0.6b"])
    args = ap.parse_args()
    tiktoken = common.tiktoken_path(args.tiktoken)
    if args.shape == "qwen3-0.6b":
        make(os.path.join(args.out, "qwen3-0.6b-shaped"), "qwen3", True, torch.bfloat16, False, tiktoken, args.templates,
             shape=args.shape)
        return
    for name, (arch, tied, dtype, sharded) in VARIANTS.items():
        make(os.path.join(args.out, name), arch, tied, dtype, sharded, tiktoken, args.templates)
        print("made", name, sorted(os.listdir(os.path.join(args.out, name))))


if __name__ == "__main__":
    main()
