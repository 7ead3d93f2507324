"""Evaluated prompt prefixes kept as llama.cpp context states, so no prompt is read twice.

Why: on 2 cores llama.cpp reads a prompt at about 63 tokens/s, and one question reads the same
text several times: the answerability gate reads each of the top passages with the question,
the answer check reads those passages and the question again after the draft (the draft's own
prompt in between evicts them from the context), and every draft starts with the same system
text. llama.cpp reuses only the prefix its context holds now; these states keep the others. A
state is the context's bytes (its KV cache), keyed by the tokens evaluated into it; restoring
the one that shares the longest prefix with a new prompt leaves only the rest to be read.
llama-cpp-python's own LlamaRAMCache does this for completions only, and stores the logits of
every evaluated row beside each state (hundreds of MB for a 150k-token vocabulary); the gate
and the check evaluate prompts without a completion, so both go through this one.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptStates:
    """Saved context states by their tokens, least recently used dropped past `cap_bytes`.
    Callers hold the model's lock (one llama.cpp context serves one request at a time)."""

    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = cap_bytes
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self.prefilled = 0  # prompt tokens evaluated, since the model was loaded
        self.reused = 0  # prompt tokens found already evaluated

    def __len__(self) -> int:
        return len(self._states)

    @property
    def bytes(self) -> int:
        return sum(len(v) for v in self._states.values())

    def reuse(self, model: Any, tokens: Sequence[int]) -> int:
        """Leave in `model`'s context the longest evaluated prefix of `tokens` that the context
        or a saved state holds, and return its length (its KV cells past it are dropped on the
        next eval, as llama-cpp-python's eval() trims the cache to n_tokens)."""
        here = common_prefix(model.input_ids[: model.n_tokens].tolist(), tokens)
        best, best_key = here, None
        for key in self._states:
            n = common_prefix(key, tokens)
            if n > best:
                best, best_key = n, key
        if best_key is not None:
            self._restore(model, best_key)
        model.n_tokens = best
        return best

    def count(self, prefilled: int, reused: int) -> None:
        self.prefilled += prefilled
        self.reused += reused

    def save(self, model: Any) -> None:
        """Keep the context as it is now, keyed by the tokens it holds."""
        if self.cap_bytes <= 0 or model.n_tokens == 0:
            return
        import llama_cpp

        size = llama_cpp.llama_state_get_size(model._ctx.ctx)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_get_data(model._ctx.ctx, buf, size)
        key = tuple(model.input_ids[: model.n_tokens].tolist())
        self._states.pop(key, None)
        self._states[key] = ctypes.string_at(buf, n)
        while self.bytes > self.cap_bytes and self._states:
            self._states.popitem(last=False)

    def _restore(self, model: Any, key: tuple[int, ...]) -> None:
        import llama_cpp

        data = self._states.pop(key)
        self._states[key] = data  # most recently used
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(model._ctx.ctx, buf, len(data)) != len(data):
            raise RuntimeError("llama.cpp refused a saved context state")
        model.input_ids[: len(key)] = key
        model.n_tokens = len(key)
        model._requires_eval = True  # the logits are the state's, not of a live decode
