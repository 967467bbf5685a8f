"""The Hugging Face round trip, checked with the real tools (run by Tests/Scripts/ci-hf-oracle.sh).

For each checkpoint made by hf_checkpoints.py (Qwen3 and Qwen2; tied and untied; BF16 and F32; sharded and
single-file), `vocabkit prune DIR` writes a pruned checkpoint, and then:
  - HF `tokenizers` and `AutoTokenizer` give the remapped ids on held-out text whose tokens are kept, and
    `apply_chat_template` (system prompt, tools, thinking on and off) gives the remapped ids of the original's;
  - config.json / generation_config.json / tokenizer_config.json name the remapped ids, the chat template and
    the other files are unchanged;
  - `transformers` loads the pruned model with no missing or unexpected weights; its embedding and head rows
    are the original's kept rows byte for byte (padding rows: the original's unreachable rows); its logits
    over the kept tokens equal the original's at the kept ids (F32: exactly or within 1e-5);
  - a few PEFT LoRA steps on the pruned model lower the loss;
  - llama.cpp's convert_hf_to_gguf.py converts the original and (through Scripts/convert_pruned_hf.py) the
    pruned checkpoint, and `vocabkit check ORIGINAL.gguf PRUNED.gguf` holds parity;
  - `vocabkit prune ORIGINAL.gguf --hf-tokenizer DIR` writes tokenizer files that tokenize in HF `tokenizers`
    exactly as the pruned GGUF does in `vocabkit tokenize` (and in llama-tokenize when $LLAMA_TOKENIZE names one,
    on NFC text: llama.cpp skips Qwen's NFC normalizer); with $LLAMA_SIMPLE, llama.cpp loads both GGUFs.
Exits non-zero on the first failed check.
Usage: hf_roundtrip.py CHECKPOINTS_DIR WORK_DIR [--convert DIR] [--only NAME]
"""
import argparse, json, os, shutil, subprocess, sys, time, unicodedata

import torch
from safetensors import safe_open
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as transformers_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import hf_checkpoints  # noqa: E402

ROOT = common.ROOT
VK = common.vocabkit_path()
# Variants pruned with --pad-to 64 (the others are converted to GGUF and checked with `vocabkit check`).
PADDED = {"qwen3-tied-bf16-single", "qwen2-untied-bf16-sharded"}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                         "required": ["city"]}}}]
CONVERSATIONS = [
    ([{"role": "system", "content": "You are a careful Python reviewer."},
      {"role": "user", "content": "What does bisect.insort do?"}], None),
    ([{"role": "user", "content": "What is the weather in Paris?"}], TOOLS),
    ([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "def f(x): return x + 1"},
      {"role": "assistant", "content": "It adds one to x."}, {"role": "user", "content": "And for a list?"}], None),
]
failures = 0


def check(condition, what):
    global failures
    print(("  ok    " if condition else "  FAIL  ") + what, flush=True)
    if not condition:
        failures += 1


def run(*args, **kw):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(map(str, args))}")
    return result.stdout


def read_remap(path):
    remap = {}
    for line in open(path):
        if not line.startswith("#"):
            old, new = line.split()
            remap[int(old)] = int(new)
    return remap


def chat_renders(tok, thinking):
    out = []
    for messages, tools in CONVERSATIONS:
        for think in thinking:
            kwargs = {"enable_thinking": think} if think is not None else {}
            out.append((messages, tools, kwargs))
    return out


def tensors(directory, name):
    """name → tensor from every .safetensors file of a checkpoint."""
    for f in sorted(os.listdir(directory)):
        if f.endswith(".safetensors"):
            with safe_open(os.path.join(directory, f), "pt") as st:
                if name in st.keys():
                    return st.get_tensor(name)
    return None


def raw(t):
    """A tensor's bytes as an integer tensor of the same width, for byte-for-byte comparison."""
    return t.view(torch.int16) if t.element_size() == 2 else t.view(torch.int32)


def held_out_lines():
    text = open(os.path.join(ROOT, "Corpora", "sample", "colorsys.py"), encoding="utf-8").read()
    return [l for l in text.split("\n") if l.strip()]


def prune_corpus(work, original_tok):
    """The pruning corpus: bisect.py and the licence, plus the chat renders (so their tokens are kept)."""
    corpus = os.path.join(work, "corpus")
    if os.path.isdir(corpus):
        shutil.rmtree(corpus)
    os.makedirs(corpus)
    for name in ("bisect.py", "PYTHON-LICENSE.txt"):
        shutil.copy(os.path.join(ROOT, "Corpora", "sample", name), corpus)
    with open(os.path.join(corpus, "chat.txt"), "w", encoding="utf-8") as f:
        for messages, tools, kwargs in chat_renders(original_tok, [None, True, False]):
            f.write(original_tok.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True, **kwargs))
    return corpus


def roundtrip(name, source, work, convert_dir):
    arch, tied, dtype, sharded = hf_checkpoints.VARIANTS[name]
    print(f"== {name} ({arch}, {'tied' if tied else 'untied'}, {str(dtype).split('.')[-1]}, {'sharded' if sharded else 'single file'})", flush=True)
    out = os.path.join(work, name + "-pruned")
    remap_path = os.path.join(work, name + "-remap.tsv")
    if os.path.isdir(out):
        shutil.rmtree(out)
    original_tok = AutoTokenizer.from_pretrained(source)
    corpus = prune_corpus(work, original_tok)
    args = [VK, "prune", source, "--corpus", corpus, "--coverage", "0.9999", "-o", out, "--remap", remap_path]
    if name in PADDED:
        args += ["--pad-to", "64"]
    print("  " + run(*args).strip().replace("\n", "\n  "))
    remap = read_remap(remap_path)
    kept = sorted(remap, key=remap.get)
    pruned_config = json.load(open(os.path.join(out, "config.json")))
    rows = pruned_config["vocab_size"]
    check(rows == (len(kept) + 63) // 64 * 64 if name in PADDED else rows == len(kept), f"vocab_size {rows} for {len(kept)} kept ids")

    # Tokenizers on held-out text.
    fast_o = Tokenizer.from_file(os.path.join(source, "tokenizer.json"))
    fast_p = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    auto_p = AutoTokenizer.from_pretrained(out)
    compared = mismatched = lossless = 0
    for line in held_out_lines() + ["<|im_start|>user\nhi<|im_end|>\n<think>\n\n</think>\n"]:
        ids = fast_o.encode(line).ids
        pruned_ids = fast_p.encode(line).ids
        if fast_p.decode(pruned_ids, skip_special_tokens=False) == line:
            lossless += 1
        if all(i in remap for i in ids):
            compared += 1
            expected = [remap[i] for i in ids]
            if pruned_ids != expected or auto_p(line)["input_ids"] != expected:
                mismatched += 1
    check(compared >= 20 and mismatched == 0, f"tokenizers and AutoTokenizer give the remapped ids on {compared} held-out lines whose tokens are kept ({mismatched} differ)")
    check(lossless == len(held_out_lines()) + 1, f"every held-out line ({lossless}) decodes back from the pruned ids")

    # Chat template.
    same = 0
    renders = chat_renders(original_tok, [True, False] if arch == "qwen3" else [None])
    for messages, tools, kwargs in renders:
        a = original_tok.apply_chat_template(messages, tools=tools, tokenize=True, add_generation_prompt=True, **kwargs)
        b = auto_p.apply_chat_template(messages, tools=tools, tokenize=True, add_generation_prompt=True, **kwargs)
        a = a["input_ids"] if isinstance(a, dict) or hasattr(a, "keys") else a
        b = b["input_ids"] if isinstance(b, dict) or hasattr(b, "keys") else b
        same += all(i in remap for i in a) and [remap[i] for i in a] == list(b)
    check(same == len(renders), f"apply_chat_template (system prompt, tools{', thinking on/off' if arch == 'qwen3' else ''}) gives the remapped ids: {same}/{len(renders)}")

    # Config files.
    orig_config = json.load(open(os.path.join(source, "config.json")))
    check(all(pruned_config.get(k) == (remap[v] if isinstance(v, int) else v) for k, v in orig_config.items() if k.endswith("_token_id"))
          and all(pruned_config[k] == v for k, v in orig_config.items() if not k.endswith("_token_id") and k != "vocab_size"),
          "config.json: vocab_size and token ids remapped, everything else unchanged")
    og = json.load(open(os.path.join(source, "generation_config.json")))
    pg = json.load(open(os.path.join(out, "generation_config.json")))
    check(pg["eos_token_id"] == [remap[i] for i in og["eos_token_id"]] and pg["bos_token_id"] == remap[og["bos_token_id"]]
          and pg["pad_token_id"] == remap[og["pad_token_id"]] and pg["temperature"] == og["temperature"],
          f"generation_config.json: eos {og['eos_token_id']} -> {pg['eos_token_id']}, bos and pad remapped")
    otc = json.load(open(os.path.join(source, "tokenizer_config.json")))
    ptc = json.load(open(os.path.join(out, "tokenizer_config.json")))
    check(ptc["chat_template"] == otc["chat_template"]
          and {int(k): v for k, v in ptc["added_tokens_decoder"].items()} == {remap[int(k)]: v for k, v in otc["added_tokens_decoder"].items()},
          "tokenizer_config.json: chat template unchanged, added_tokens_decoder remapped")
    pj = json.load(open(os.path.join(out, "tokenizer.json")))
    oj = json.load(open(os.path.join(source, "tokenizer.json")))
    check(isinstance(pj["model"]["merges"][0], type(oj["model"]["merges"][0])) and all(pj[k] == oj[k] for k in ("normalizer", "pre_tokenizer", "decoder", "post_processor")),
          f"tokenizer.json: merges kept as {'strings' if isinstance(oj['model']['merges'][0], str) else 'pairs'}, normalizer/pre-tokenizer/decoder unchanged")
    check(all(open(os.path.join(out, f), "rb").read() == open(os.path.join(source, f), "rb").read() for f in ("LICENSE", "README.md")),
          "other files copied byte for byte")
    vocab_json = json.load(open(os.path.join(out, "vocab.json"), encoding="utf-8"))
    check(vocab_json == pj["model"]["vocab"], "vocab.json matches tokenizer.json")

    # Weights.
    pruned_model, info = AutoModelForCausalLM.from_pretrained(out, dtype=dtype, output_loading_info=True)
    original_model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    check(not info["missing_keys"] and not info["unexpected_keys"], f"transformers loads the pruned model ({type(pruned_model).__name__}, no missing or unexpected weights)")
    kept_t = torch.tensor(kept)
    for tensor_name in ["model.embed_tokens.weight"] + ([] if tied else ["lm_head.weight"]):
        o, p = tensors(source, tensor_name), tensors(out, tensor_name)
        equal = torch.equal(raw(o[kept_t]), raw(p[:len(kept)]))
        pad_ok = True
        if rows > len(kept):
            ids = set(range(orig_config["vocab_size"])) - set(remap)
            token_ids = set(fast_o.get_vocab().values())
            unreachable = sorted(i for i in ids if i not in token_ids)
            pad_ok = torch.equal(raw(o[torch.tensor(unreachable[:rows - len(kept)])]), raw(p[len(kept):]))
        check(equal and pad_ok, f"{tensor_name}: kept rows byte for byte{' (and padding rows from the original unreachable rows)' if rows > len(kept) else ''}, shape {list(p.shape)}")
    if tied:
        check(pruned_model.lm_head.weight.data_ptr() == pruned_model.model.embed_tokens.weight.data_ptr(), "tied: lm_head is the embedding")
    text, taken = "", 0
    for line in held_out_lines():  # held-out lines while the text stays made of kept tokens
        candidate = text + line + "\n"
        if all(i in remap for i in fast_o.encode(candidate).ids):
            text, taken = candidate, taken + 1
        if taken == 24:
            break
    ids_o = fast_o.encode(text).ids
    with torch.no_grad():
        lo = original_model(torch.tensor([ids_o])).logits[0]
        lp = pruned_model(torch.tensor([[remap[i] for i in ids_o]])).logits[0]
    diff = (lo[:, kept_t].float() - lp[:, :len(kept)].float()).abs().max().item()
    if dtype == torch.float32:
        check(diff <= 1e-5, f"logits over kept tokens equal the original's at the kept ids on {len(ids_o)} positions (max |diff| {diff:g})")
    else:
        print(f"  info  BF16 logits over kept tokens: max |diff| {diff:g} on {len(ids_o)} positions (not asserted)")

    # LoRA.
    if dtype == torch.float32:
        from peft import LoraConfig, get_peft_model
        torch.manual_seed(0)
        model = get_peft_model(pruned_model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        batch = torch.tensor([[remap[i] for i in ids_o][:128]])
        losses = []
        for _ in range(8):
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        check(losses[-1] < losses[0], f"8 PEFT LoRA steps lower the loss: {losses[0]:.4f} -> {losses[-1]:.4f}")

    # llama.cpp's converter and vocabkit check.
    if convert_dir and name not in PADDED:
        og_gguf, pg_gguf = os.path.join(work, name + ".gguf"), os.path.join(work, name + "-pruned.gguf")
        py = sys.executable
        run(py, os.path.join(convert_dir, "convert_hf_to_gguf.py"), source, "--outfile", og_gguf, "--outtype", "f32")
        run(py, os.path.join(ROOT, "Scripts", "convert_pruned_hf.py"), convert_dir, out, "--outfile", pg_gguf, "--outtype", "f32")
        check(os.path.getsize(pg_gguf) < os.path.getsize(og_gguf), f"convert_hf_to_gguf.py converts both: {os.path.getsize(og_gguf):,} -> {os.path.getsize(pg_gguf):,} bytes")
        report = json.loads(run(VK, "check", og_gguf, pg_gguf, "--file", os.path.join(ROOT, "Corpora", "sample", "colorsys.py"),
                                "--windows", "2", "--ctx", "96", "-n", "4", "--json"))
        llama_simple = os.environ.get("LLAMA_SIMPLE")
        if llama_simple:  # llama.cpp binaries are not in CI; where they are, llama.cpp must load both
            outputs = [run(llama_simple, "-m", g, "-n", "4", "def f(x):") for g in (og_gguf, pg_gguf)]
            check(all(outputs), "llama.cpp (llama-simple) loads and runs both GGUFs")
        check(report["parity"] and report["max_logit_diff"] == 0, f"vocabkit check holds parity on the converted GGUFs (max |logit diff| {report['max_logit_diff']}, {report['positions']} positions)")
        return og_gguf
    return None


def hf_tokenizer_export(gguf, work):
    print("== vocabkit prune ORIGINAL.gguf --hf-tokenizer DIR", flush=True)
    out_gguf, hf_dir = os.path.join(work, "export-pruned.gguf"), os.path.join(work, "export-hf")
    if os.path.isdir(hf_dir):
        shutil.rmtree(hf_dir)
    print("  " + run(VK, "prune", gguf, "--corpus", os.path.join(work, "corpus"), "--coverage", "0.999", "-o", out_gguf,
                     "--hf-tokenizer", hf_dir).strip().replace("\n", "\n  "))
    fast = Tokenizer.from_file(os.path.join(hf_dir, "tokenizer.json"))
    texts = held_out_lines() + [
        "Hello world! 你好，世界。 Привет, мир! مرحبا 🦙🦙 3.14159 'll 'VE",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n<tool_call>x</tool_call><|im_end|>",
        "\t  \n\n   trailing spaces   ", "ÿ\u00e9\u0301 NFC: e\u0301", "".join(chr(c) for c in range(0x2000, 0x2030)),
    ]
    llama_tokenize = os.environ.get("LLAMA_TOKENIZE")
    same = same_llama = 0
    path = os.path.join(work, "text.txt")
    for text in texts:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        ours = [int(x) for x in run(VK, "tokenize", "--vocab", out_gguf, "--file", path, "--format", "ids").split()]
        same += fast.encode(text).ids == ours
        # llama.cpp does not apply Qwen's NFC normalizer (HF tokenizers and VocabKit do), so it is compared
        # on the texts that are already NFC.
        if llama_tokenize and unicodedata.is_normalized("NFC", text):
            out = run(llama_tokenize, "-m", out_gguf, "-f", path, "--ids", "--log-disable", "--no-escape", "--no-bos")
            same_llama += [int(x) for x in out.strip().strip("[]").split(",") if x.strip()] == ours
    check(same == len(texts), f"HF tokenizers on the exported tokenizer.json = vocabkit tokenize on the pruned GGUF: {same}/{len(texts)} texts")
    if llama_tokenize:
        nfc = sum(unicodedata.is_normalized("NFC", t) for t in texts)
        check(same_llama == nfc, f"llama-tokenize on the pruned GGUF agrees on the {nfc} texts already in NFC: {same_llama}/{nfc}")
    auto = AutoTokenizer.from_pretrained(hf_dir)
    template = json.load(open(os.path.join(hf_dir, "tokenizer_config.json")))["chat_template"]
    rendered = auto.apply_chat_template(CONVERSATIONS[0][0], tokenize=False, add_generation_prompt=True)
    check(bool(template) and rendered.startswith("<|im_start|>system"), "AutoTokenizer loads the exported files and applies the GGUF's chat template")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints")
    ap.add_argument("work")
    ap.add_argument("--convert", help="llama.cpp's converter (Tests/Fixtures/llama-vocab/fetch.sh --convert)")
    ap.add_argument("--only")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    started = time.time()
    torch.set_num_threads(2)
    transformers_logging.disable_progress_bar()
    exported = None
    for name in hf_checkpoints.VARIANTS:
        if args.only and args.only != name:
            continue
        gguf = roundtrip(name, os.path.join(args.checkpoints, name), args.work, args.convert)
        if gguf and exported is None and "qwen3" in name:
            hf_tokenizer_export(gguf, args.work)
            exported = gguf
    print(f"{'all checks passed' if failures == 0 else f'{failures} checks FAILED'} ({time.time() - started:.0f} s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
