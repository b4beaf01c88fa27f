"""Checkpoint registry: A1111 titles, hashes cached in cache.json, matching by every alias."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from sdwebui.engine.models.hashes import HashCache
from sdwebui.services.models.checkpoints import CheckpointRegistry


@pytest.fixture
def registry(tmp_path, tiny_files):
    ckpt = tmp_path / "models" / "Stable-diffusion"
    (ckpt / "sub").mkdir(parents=True)
    shutil.copy(tiny_files["sd1"], ckpt / "alpha.safetensors")
    shutil.copy(tiny_files["sd1b"], ckpt / "sub" / "beta.safetensors")
    (ckpt / "alpha.vae.safetensors").write_bytes(b"x")   # VAE files are not checkpoints
    (ckpt / "notes.txt").write_text("x")
    reg = CheckpointRegistry([ckpt], HashCache(tmp_path / "cache.json"))
    reg.refresh()
    return reg


def test_listing_and_titles(registry):
    names = [c.name for c in registry.list()]
    assert names == ["alpha.safetensors", "sub/beta.safetensors"]
    beta = registry.list()[1]
    assert beta.title == "sub/beta.safetensors"          # no sha256 known yet
    assert beta.model_name == "sub_beta"
    sha = registry.ensure_hash(beta)
    assert sha == hashlib.sha256(beta.path.read_bytes()).hexdigest()
    assert beta.title == f"sub/beta.safetensors [{sha[:10]}]"


def test_hash_cached_in_cache_json(registry, tmp_path):
    alpha = registry.list()[0]
    sha = registry.ensure_hash(alpha)
    cache = json.loads((tmp_path / "cache.json").read_text())
    assert cache["hashes"]["checkpoint/alpha.safetensors"]["sha256"] == sha
    again = CheckpointRegistry(registry.dirs, HashCache(tmp_path / "cache.json"))
    again.refresh()
    assert again.list()[0].title == f"alpha.safetensors [{sha[:10]}]"


@pytest.mark.parametrize("query_of", [
    lambda c: c.title, lambda c: c.name, lambda c: "beta", lambda c: "beta.safetensors",
    lambda c: c.sha256, lambda c: c.sha256[:10], lambda c: str(c.filename), lambda c: "sub_beta",
    lambda c: f"sub/beta.safetensors [{c.sha256[:10]}]", lambda c: "sub/beta.safetensors [0123456789]",
    lambda c: "BETA",
])
def test_match_by_every_alias(registry, query_of):
    beta = registry.list()[1]
    registry.ensure_hash(beta)
    assert registry.match(query_of(beta)) is beta


def test_no_match(registry):
    assert registry.match("gamma") is None
    assert registry.match("") is None
    assert registry.match(None) is None
