"""The envelope encryption of members' identity details (chorus.crypto) and the data key setting:
a round trip, a wrong or destroyed key fails, a ciphertext moved elsewhere fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus import crypto
from chorus.settings import Settings


@given(st.binary(max_size=2000), st.text(max_size=50))
def test_sealed_data_opens_with_its_key_and_place(plain: bytes, aad: str) -> None:
    key = crypto.new_data_key()
    sealed = crypto.seal(key, plain, aad=aad)
    assert crypto.open_sealed(key, sealed, aad=aad) == plain
    if len(plain) >= 8:
        assert plain not in sealed  # never the plaintext at rest


def test_the_same_text_seals_differently_each_time() -> None:
    key = crypto.new_data_key()
    plain = b"11010519491231002X"
    assert crypto.seal(key, plain, aad="a") != crypto.seal(key, plain, aad="a")


def test_a_wrong_key_a_moved_ciphertext_or_altered_bytes_do_not_open() -> None:
    key, other = crypto.new_data_key(), crypto.new_data_key()
    sealed = crypto.seal(key, "张三 13800138000".encode(), aad="user=1")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(other, sealed, aad="user=1")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(key, sealed, aad="user=2")  # another member's row
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(key, altered, aad="user=1")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(key, b"short", aad="user=1")


def test_a_wrapped_key_unwraps_only_under_its_master_key() -> None:
    master = crypto.derive_master_key("m" * 40)
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key(master, data_key, aad="user=7 case=0")
    assert crypto.unwrap_key(master, wrapped, aad="user=7 case=0") == data_key
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unwrap_key(crypto.derive_master_key("n" * 40), wrapped, aad="user=7 case=0")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unwrap_key(master, wrapped, aad="user=8 case=0")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unwrap_key(master, "not base64!", aad="user=7 case=0")


def test_a_destroyed_data_key_leaves_nothing_that_opens() -> None:
    """Crypto-shredding: once the only wrapped copy of a data key is gone, nothing else opens
    what it sealed — not the master key, not another member's key."""
    master = crypto.derive_master_key("m" * 40)
    keys = {"ann": crypto.new_data_key(), "bob": crypto.new_data_key()}
    wrapped = {who: crypto.wrap_key(master, k, aad=who) for who, k in keys.items()}
    sealed = crypto.seal(keys["ann"], b"ann's address", aad="doc")
    del wrapped["ann"], keys["ann"]  # the account is deleted
    for who, w in wrapped.items():
        with pytest.raises(crypto.DecryptionFailed):
            crypto.open_sealed(crypto.unwrap_key(master, w, aad=who), sealed, aad="doc")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(master, sealed, aad="doc")


def test_the_master_key_comes_from_the_environment_and_differs_from_the_signing_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dev = Settings(var_dir=tmp_path, secret_key="s" * 40)
    assert len(dev.data_master_key()) == 32
    assert dev.data_master_key() != crypto.derive_master_key("s" * 40)  # a purpose of its own
    assert dev.data_master_key() == Settings(var_dir=tmp_path, secret_key="s" * 40).data_master_key()
    given_key = Settings(var_dir=tmp_path, secret_key="s" * 40, data_key="d" * 40)
    assert given_key.data_master_key() == crypto.derive_master_key("d" * 40) != dev.data_master_key()
    with pytest.raises(ValueError):
        Settings(data_key="too short")  # a key shorter than 32 characters is refused at start
