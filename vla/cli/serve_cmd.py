"""`vla serve`: serve a checkpoint to robots over WebSocket (see vla/serving/server.py)."""

from __future__ import annotations

import argparse
import logging
import sys

from vla.serving.protocol import DEFAULT_MAX_MESSAGE_BYTES  # numpy only: --help stays fast


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a policy checkpoint over WebSocket (msgpack, batched)",
        description="Serve a policy checkpoint to robots over WebSocket with msgpack-encoded "
        "numpy arrays. Binds to loopback unless given a token; robots connect with "
        "vla.serving.client.PolicyClient(host, port, token=...).",
    )
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint folder, or a `vla export` folder (ONNX Runtime on the CPU: "
                   "its policy.onnx, else policy_int8.onnx)")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token-file", help="file whose first line is the shared token (>= 16 chars)")
    p.add_argument("--tls-cert", help="PEM certificate chain: serve wss:// (with --tls-key)")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    p.add_argument(
        "--text-cache",
        default=None,
        help="instruction embeddings file from `vla text-cache` (MiniLM checkpoints; default: "
        "the checkpoint's own, then MiniLM itself if installed)",
    )
    p.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve FastPolicy (fp16, batch buckets up to --max-batch, CUDA graphs); default: "
        "on for CUDA, off for CPU; --no-fast serves the plain Policy",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="FastPolicy with torch.compile inside each bucket's CUDA graph (CUDA, Triton; "
        "~15 s of compilation per bucket at start-up)",
    )
    p.add_argument("--max-batch", type=int, default=16, help="most requests in one forward")
    p.add_argument(
        "--batch-window-ms",
        type=float,
        default=0.0,
        help="longest wait of an idle server for more requests (default 0: dispatch at once; "
        "requests arriving during a forward are batched into the next one anyway)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest request frame; bounds the server's memory (see vla/serving/server.py)",
    )
    p.add_argument("--max-connections", type=int, default=64, help="most robots at once")
    p.add_argument(
        "--idle-timeout-s",
        type=float,
        default=120.0,
        help="close a connection that sends no request for this long",
    )
    p.add_argument(
        "--evict-idle-s",
        type=float,
        default=5.0,
        help="when full, close the connection idle longest (at least this long) for a new one",
    )
    p.add_argument(
        "--openpi",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also serve openpi websocket clients (metadata on connect, their request shape; "
        "default: on)",
    )
    p.add_argument(
        "--temporal-ensemble", action="store_true", help="ensemble chunks per robot (step op)"
    )
    p.add_argument(
        "--torch-threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT), each with its own copy of the "
        "policy (on CUDA, spread over the GPUs): one process answers ~3,000-4,000 requests/s "
        "(about 100-128 robots at 30 Hz) before its event loop saturates (vla/serving/workers.py)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.serving.server import PolicyServer, ServerConfig, read_token_file

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        token = read_token_file(args.token_file) if args.token_file else None
        config = ServerConfig(
            host=args.host,
            port=args.port,
            token=token,
            max_batch=args.max_batch,
            batch_window_ms=args.batch_window_ms,
            max_message_bytes=args.max_message_bytes,
            max_connections=args.max_connections,
            idle_timeout_s=args.idle_timeout_s,
            evict_idle_s=args.evict_idle_s,
            openpi=args.openpi,
            temporal_ensemble=args.temporal_ensemble,
            certfile=args.tls_cert,
            keyfile=args.tls_key,
        )
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
    except ValueError as exc:  # refused before loading anything heavy
        print(f"vla serve: {exc}", file=sys.stderr)
        return 2

    import torch

    from vla.serving.policy_adapter import describe_inference, load_policy, served_device

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    load = dict(checkpoint=args.checkpoint, device=device, fast=args.fast,
                max_batch=args.max_batch, text_cache=args.text_cache, compile=args.compile,
                threads=args.torch_threads)  # fmt: skip
    if args.workers > 1:
        from vla.serving.workers import run_workers

        return run_workers(load, config, args.workers)
    try:
        policy = load_policy(**load)
        device = served_device(policy)
        server = PolicyServer(policy, config)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"vla serve: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("vla.serving").info("inference on %s: %s", device, describe_inference(policy))
    try:
        server.serve_forever()
    except OSError as exc:  # e.g. the port is taken
        print(f"vla serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
