"""int8 build of an exported policy for CPU-only robot computers (ONNX Runtime dynamic quant).

    DIR/policy.onnx (fp32, `vla export`) --int8 weight matmuls--> DIR/policy_int8.onnx
      the decoder's and FiLM's weight MatMuls: int8 (``method``, below); no calibration set
      convolutions, normalisation, softmax, attention and the action head stay fp32

Why these ops: nearly all of the FLOPs of one chunk are the fusion decoder's weight matmuls
(216 tokens x 6 layers; the CNN is ~15 %). The action head's MatMul stays fp32
(``nodes_to_exclude``): its output is the logits, and the argmax over 256 bins of a flat
distribution is decided by differences far below int8's resolution. Methods: ``dynamic``
(ORT ``quantize_dynamic``: one activation scale per tensor, which the decoder's outlier
channels ruin), ``blockwise`` (``MatMulNBits`` with 8 bits: a scale per 32 weights and per 32
activations, int8 arithmetic) and ``weight_only`` (the same int8 weights, fp32 arithmetic).

Measured with pick_place_v7 (``benchmarks/results/edge_inference/``): none of them is faithful
or faster, so the CPU path to ship is the fp32 ``policy.onnx`` (``OnnxPolicy``; 19.5 ms per
chunk at batch 1 on 2 pinned Xeon cores, ids identical to PyTorch fp32). Token agreement with
fp32 on recorded episodes: dynamic 46 %, blockwise 81 %, weight_only 91 % (v7's near-tied bins,
see ``vla.inference.fast_policy``, 'Fidelity'); latency on the same 2 cores: blockwise and
weight_only 24 ms (ORT's 8-bit ``MatMulNBits`` kernels are slower than its fp32 GEMM at
M = 216 rows); dynamic failed to build with ONNX Runtime 1.30 (shape inference); with 1.32 on
a busy shared 2-core machine its median was 101 ms vs 150 ms for fp32 (noisy, not re-measured on
quiet cores). int8 stays available for models trained
without near-tied outputs: re-run the fidelity benchmark before serving it.

Fidelity against fp32 on recorded episodes is measured by ``benchmarks/precision_fidelity.py
--onnx DIR`` and latency by ``vla bench --device cpu --onnx DIR``.
"""

from __future__ import annotations

import json
from pathlib import Path

from vla.export.onnx_export import EXPORT_META_FILENAME, ONNX_FILENAME

INT8_FILENAME = "policy_int8.onnx"
QUANTIZED_OPS = ("MatMul", "Gemm")


def head_nodes(model) -> list[str]:
    """Names of the nodes that produce the ``logits`` output from the last hidden state: the
    MatMul/Gemm nodes feeding it (walked back through Add/Slice/Reshape-style nodes)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    out, stack, seen = [], ["logits"], set()
    while stack:
        name = stack.pop()
        node = producers.get(name)
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type in QUANTIZED_OPS:
            out.append(node.name)
            continue  # stop at the head's matmul: what feeds it is the decoder
        stack.extend(node.input)
    return out


INT8_METHODS = ("dynamic", "blockwise", "weight_only")


def write_int8(model, head: list[str], method: str, dst: Path) -> None:
    """Write ``model`` (an fp32 ONNX ModelProto) quantised by ``method`` to ``dst``, the nodes
    ``head`` kept fp32 (see :func:`quantize_int8`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if method == "dynamic":
        quantize_dynamic(
            model, dst, op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True,
            weight_type=QuantType.QInt8, nodes_to_exclude=head,
        )  # fmt: skip
        return
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # blockwise: int8 weights and int8 activations per block of 32 (VNNI int8 dot products);
    # weight_only: int8 weights per block of 32, dequantised, fp32 arithmetic
    level = 4 if method == "blockwise" else 0
    quantizer = MatMulNBitsQuantizer(model, bits=8, block_size=32, is_symmetric=True,
                                     accuracy_level=level, nodes_to_exclude=head)  # fmt: skip
    quantizer.process()
    quantizer.model.save_model_to_file(str(dst), use_external_data_format=False)


def quantize_int8(export_dir: str | Path, method: str = "weight_only") -> dict:
    """Write ``DIR/policy_int8.onnx`` next to ``DIR/policy.onnx``; returns what was done (also
    stored in ``export_meta.json["int8"]``).

    ``method``: ``dynamic`` (``quantize_dynamic``: int8 weights per output channel, activations
    per tensor per call), ``blockwise`` (``MatMulNBits`` 8-bit: weights and activations in
    blocks of 32, int8 arithmetic) or ``weight_only`` (the same weights, fp32 arithmetic).
    """
    import onnx

    if method not in INT8_METHODS:
        raise ValueError(f"method {method!r}: choose one of {INT8_METHODS}")
    export_dir = Path(export_dir)
    src = export_dir / ONNX_FILENAME
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found: run `vla export --format onnx` first")
    model = onnx.load(str(src))
    keep_fp32 = head_nodes(model)
    if not keep_fp32:
        raise RuntimeError("could not find the action head's MatMul feeding 'logits'")
    dst = export_dir / INT8_FILENAME
    write_int8(model, keep_fp32, method, dst)
    info = {
        "file": INT8_FILENAME, "method": method, "ops": list(QUANTIZED_OPS),
        "kept_fp32": keep_fp32, "onnx_bytes": dst.stat().st_size,
    }  # fmt: skip
    meta_path = export_dir / EXPORT_META_FILENAME
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta["int8"] = info
        meta_path.write_text(json.dumps(meta, indent=1))
    return info
