"""Full-sentence packing, the token-share mixture, instruction mixing, resumable streams."""

from __future__ import annotations

import json

import numpy as np

from kosmos_data import shards as ks
from kosmos_model.data import (
    IMAGE,
    PAD,
    MixtureConfig,
    MixtureLoader,
    StreamState,
    build_streams,
    interleaved_units,
    mixture_shares,
    pack_sequence,
    plan_mixture,
    split_sentences,
    text_units,
)


def _expected_units(stream, make):
    out = []
    for path in stream._order(0):
        for sample in ks.iter_samples([path]):
            out += make(sample)
    return out


def test_packing_never_splits_a_sentence(shard_dirs, tokenizer):
    tok, _ = tokenizer
    for source, make in (
        ("text", lambda s: text_units(tok, s)),
        ("interleaved", lambda s: interleaved_units(tok, s, 64)),
    ):
        streams = build_streams({source: shard_dirs[source]}, tok, 64, seed=3, max_epochs=1)
        stream = streams[source]
        expected = _expected_units(stream, make)
        got, seqs, dropped = [], [], {}
        while True:
            try:
                seq = pack_sequence(stream, 97, tok.pad_id, dropped)
            except StopIteration:
                break
            seqs.append(seq)
            pos = 0
            for a, b in seq.units:
                assert a == pos  # units are contiguous from the start
                got.append(seq.tokens[a:b].tolist())
                pos = b
            assert (seq.kinds[pos:] == PAD).all() and len(seq.tokens) == 97
        want = [u.tokens for u in expected if len(u) <= 97]
        assert got == want, source  # every unit whole, in order; only over-long ones dropped
        assert dropped.get(source, 0) == sum(len(u) > 97 for u in expected)
        # Each text unit is exactly one sentence of the corpus.
        specials = {tok.bos_id, tok.eos_id}
        for u in got:
            if tok.image_start_id in u:
                assert u[0] in (tok.image_start_id, tok.bos_id)
                continue
            text = tok.decode([t for t in u if t not in specials])
            assert split_sentences(text) == [text] and text.endswith((".", "!", "?")), text
        print(
            f"packing {source}: {len(got)} units in {len(seqs)} sequences of 97, none split, "
            f"fill {np.mean([s.real_tokens for s in seqs]) / 97:.2%}"
        )


def test_mixture_proportions_over_200_batches(shard_dirs, tokenizer, tmp_path):
    tok, _ = tokenizer
    inst = tmp_path / "inst.jsonl"
    inst.write_text(
        "".join(
            json.dumps({"instruction": f"Repeat the number {i}.", "input": "", "output": str(i)})
            + "\n"
            for i in range(30)
        )
    )
    for cfg, has_inst in (
        (MixtureConfig(), False),
        (MixtureConfig(instruction_fraction=0.2), True),
    ):
        shares = mixture_shares(cfg, shard_dirs, has_inst)
        streams = build_streams(
            shard_dirs, tok, 64, seed=0, instructions=str(inst) if has_inst else None
        )
        loader = MixtureLoader(
            streams, shares, batch_size=6, seq_len=128, pad_id=tok.pad_id, image_size=28
        )
        counts = dict.fromkeys(shares, 0)
        for _ in range(200):
            for seq in loader.next_sequences():
                counts[seq.source] += seq.real_tokens
        total = sum(counts.values())
        worst = max(abs(counts[s] / total - shares[s]) for s in shares)
        got = ", ".join(f"{s} {counts[s] / total:.4f} (want {shares[s]:.4f})" for s in shares)
        print(f"mixture over 200 batches: {got}; max abs diff {worst:.4f}")
        assert worst < 0.02
    # The paper's proportions, 0.5 : 0.5 : 0.2.
    paper = mixture_shares(MixtureConfig(), shard_dirs, False)
    assert abs(paper["text"] - 5 / 12) < 1e-12 and abs(paper["interleaved"] - 2 / 12) < 1e-12
    plan = plan_mixture(paper, shard_dirs, tokens_per_step=1200, steps=10)
    assert (
        plan["captions"]["manifest_tokens"]
        == ks.read_manifest(shard_dirs["captions"])["totals"]["tokens"]
    )
    natural = mixture_shares(MixtureConfig(natural=True), shard_dirs, False)
    toks = {s: ks.read_manifest(d)["totals"]["tokens"] for s, d in shard_dirs.items()}
    assert abs(natural["text"] - toks["text"] / sum(toks.values())) < 1e-12


def test_stream_state_resumes_exactly(shard_dirs, tokenizer):
    tok, _ = tokenizer

    def loader(state=None):
        streams = build_streams(shard_dirs, tok, 64, seed=1)
        shares = mixture_shares(MixtureConfig(), shard_dirs, False)
        ld = MixtureLoader(
            streams, shares, batch_size=3, seq_len=150, pad_id=tok.pad_id, image_size=28
        )
        if state:
            ld.load_state_dict(state)
        return ld

    a = loader()
    for _ in range(7):
        a.next_sequences()
    state = json.loads(json.dumps(a.state_dict()))  # checkpoint round trip
    want = [s.tokens.tolist() for _ in range(5) for s in a.next_sequences()]
    b = loader(state)
    got = [s.tokens.tolist() for _ in range(5) for s in b.next_sequences()]
    assert got == want
    assert any(StreamState(**st).epoch > 0 or st["sample"] for st in state["streams"].values())


def test_images_stay_whole_with_their_slots(shard_dirs, tokenizer):
    tok, _ = tokenizer
    stream = build_streams({"captions": shard_dirs["captions"]}, tok, 64, seed=0)["captions"]
    seq = pack_sequence(stream, 257, tok.pad_id, {})
    slots = np.flatnonzero(seq.kinds == IMAGE)
    assert len(slots) == 64 * len(seq.images) > 0
    for start in slots[::64]:
        assert seq.tokens[start - 1] == tok.image_start_id
        assert seq.tokens[start + 64] == tok.image_end_id
