"""Corpus downloads: https only, sha256 checked before a file enters the data root, nothing partial left."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from conftest import assert_user_error, cli
from seqtrain.data.download import CORPORA, Corpus, RemoteFile, download, local_name, sha256_of, transfer_display
from seqtrain.core.errors import UserError


class Server(http.server.ThreadingHTTPServer):
    """Serves FILES ({url path: bytes}) or a directory; paths in `cut` send half the body and close."""

    def __init__(self, files: dict[str, bytes] | None = None, directory: Path | None = None):
        self.files, self.directory = files or {}, directory
        self.cut: set[str] = set()
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server: Server = self.server
        path = self.path.split("?")[0]
        server.requests.append(path)
        if path in server.redirects:
            self.send_response(302)
            self.send_header("Location", server.redirects[path])
            self.end_headers()
            return
        body = server.files.get(path)
        if body is None and server.directory is not None:
            from urllib.parse import unquote

            file = server.directory / unquote(path).lstrip("/")
            body = file.read_bytes() if file.is_file() else None
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if path in server.cut:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs) -> Server:
        server = Server(**kwargs)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def toy_corpus(*files: tuple[str, bytes], digests: dict[str, str | None] | None = None) -> Corpus:
    """A corpus of generated files, pinned to their real sha256 unless DIGESTS says otherwise."""
    digests = digests or {}
    return Corpus("toy", "toy", "https://example.invalid/toy", tuple(
        RemoteFile(name, digests.get(name, hashlib.sha256(body).hexdigest()), len(body)) for name, body in files))


def served(files) -> dict[str, bytes]:
    return {f"/toy/{name}": body for name, body in files}


FILES = [("a.txt", b"first file\n" * 1000), ("b.conllu", os.urandom(200_000))]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_writes_verified_files(tmp_path, serve):
    server = serve(files=served(FILES))
    outcomes = download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    assert [o.status for o in outcomes] == ["downloaded", "downloaded"]
    for name, body in FILES:
        assert (tmp_path / "toy" / name).read_bytes() == body
    assert leftovers(tmp_path / "toy") == ["a.txt", "b.conllu"]  # no temporary files


def test_files_already_present_with_the_right_hash_are_not_fetched_again(tmp_path, serve):
    server = serve(files=served(FILES))
    download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    server.requests.clear()
    outcomes = download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    assert [o.status for o in outcomes] == ["present", "present"] and server.requests == []


def test_wrong_checksum_keeps_nothing(tmp_path, serve):
    server = serve(files=served(FILES))
    corpus = toy_corpus(*FILES, digests={"b.conllu": "0" * 64})
    with pytest.raises(UserError, match="b.conllu: sha256 mismatch: got [0-9a-f]{64}, expected 0{64}"):
        download(corpus, tmp_path, mirror=server.url, quiet=True)
    assert leftovers(tmp_path / "toy") == ["a.txt"]  # the good file before it stays; the bad one is gone


def test_interrupted_transfer_keeps_no_partial_file(tmp_path, serve):
    server = serve(files=served(FILES))
    server.cut.add("/toy/b.conllu")
    with pytest.raises(UserError, match="interrupted after 100000 of 200000 bytes; nothing was kept"):
        download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    assert leftovers(tmp_path / "toy") == ["a.txt"]


def test_server_error_is_one_clear_error(tmp_path, serve):
    server = serve(files={})
    with pytest.raises(UserError, match="a.txt: HTTP 404"):
        download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    assert leftovers(tmp_path / "toy") == []


@pytest.mark.parametrize("mirror", ["http://example.com/data", "ftp://127.0.0.1/data", "file:///etc",
                                    "http://10.0.0.1/data", "https:///no-host"])
def test_non_https_urls_are_refused_before_anything_is_written(tmp_path, mirror):
    with pytest.raises(UserError, match="refused: downloads use https only"):
        download(toy_corpus(*FILES), tmp_path, mirror=mirror, quiet=True)
    assert not (tmp_path / "toy").exists()


def test_redirect_to_plain_http_is_refused(tmp_path, serve):
    server = serve(files=served(FILES))
    server.redirects["/toy/a.txt"] = "http://example.com/a.txt"
    with pytest.raises(UserError, match="http://example.com/a.txt: refused"):
        download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    assert leftovers(tmp_path / "toy") == []


def test_every_pinned_source_is_https_and_every_name_stays_in_its_folder():
    for corpus in CORPORA.values():
        assert corpus.source.startswith("https://")
        for remote in corpus.files:
            assert "/" not in local_name(remote) and not local_name(remote).startswith(".")
            assert remote.sha256 is None or len(remote.sha256) == 64


@pytest.mark.parametrize("name", ["..", "dir/..", "sub/.hidden", "..\\evil"])
def test_names_that_could_leave_the_corpus_folder_are_refused(tmp_path, serve, name):
    server = serve(files={})
    corpus = Corpus("toy", "toy", "https://example.invalid", (RemoteFile(name, "0" * 64, 1),))
    with pytest.raises(UserError, match="not a plain file name"):
        download(corpus, tmp_path, mirror=server.url, quiet=True)
    assert leftovers(tmp_path) == []


class CtrlCMidTransfer(transfer_display):
    """A display through which the user presses Ctrl-C once the first bytes have arrived."""

    def advance(self, task, n):
        raise KeyboardInterrupt


def test_ctrl_c_during_a_transfer_keeps_no_partial_file(tmp_path, serve):
    server = serve(files=served(FILES))
    with pytest.raises(KeyboardInterrupt):
        download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True, display=CtrlCMidTransfer(quiet=True))
    assert leftovers(tmp_path / "toy") == []


def test_unpinned_files_are_skipped_unless_allowed(tmp_path, serve):
    server = serve(files=served(FILES))
    corpus = toy_corpus(*FILES, digests={"b.conllu": None})
    outcomes = download(corpus, tmp_path, mirror=server.url, quiet=True)
    assert [o.status for o in outcomes] == ["downloaded", "skipped"]
    assert leftovers(tmp_path / "toy") == ["a.txt"]
    outcomes = download(corpus, tmp_path, mirror=server.url, quiet=True, allow_unpinned=True)
    assert outcomes[1].status == "downloaded" and "unverified" in outcomes[1].note
    assert outcomes[1].sha256 == hashlib.sha256(FILES[1][1]).hexdigest()


def test_a_local_file_with_another_hash_is_kept_unless_forced(tmp_path, serve):
    server = serve(files=served(FILES))
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.txt").write_bytes(b"my own edits\n")
    with pytest.raises(UserError, match="a.txt: already exists but its sha256 is"):
        download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True)
    assert (tmp_path / "toy" / "a.txt").read_bytes() == b"my own edits\n"
    download(toy_corpus(*FILES), tmp_path, mirror=server.url, quiet=True, force=True)
    assert (tmp_path / "toy" / "a.txt").read_bytes() == FILES[0][1]


def test_cli_refuses_a_plain_http_mirror_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTRAIN_DOWNLOAD_MIRROR", "http://example.com/mirror")
    assert_user_error(cli("data", "download", "ud-en-ewt", "--data-dir", tmp_path, "-q"), "https only")
    assert leftovers(tmp_path) == []


def test_cli_names_the_known_corpora(tmp_path):
    assert_user_error(cli("data", "download", "ud-fr", "--data-dir", tmp_path), "ud-en-ewt, ud-zh-gsdsimp, tang")


# ---------------------------------------------------------------- the real corpora (need $SEQTRAIN_DATA)

def shared_data() -> Path:
    if not os.environ.get("SEQTRAIN_DATA"):
        pytest.skip("set SEQTRAIN_DATA to the shared corpus copies (e.g. ../shared/data)")
    return Path(os.environ["SEQTRAIN_DATA"])


def test_pinned_checksums_match_the_shared_copies():
    root = shared_data()
    checked = 0
    for corpus in CORPORA.values():
        for remote in corpus.files:
            path = root / corpus.folder / local_name(remote)
            if remote.sha256 and path.exists():
                assert path.stat().st_size == remote.size and sha256_of(path) == remote.sha256, path
                checked += 1
    assert checked >= 3


def test_cli_downloads_a_real_corpus_from_a_local_mirror(tmp_path, serve, monkeypatch):
    root = shared_data()
    if not (root / "ud-zh-gsdsimp" / "zh_gsdsimp-ud-dev.conllu").exists():
        pytest.skip("ud-zh-gsdsimp is not in $SEQTRAIN_DATA")
    server = serve(directory=root)
    monkeypatch.setenv("SEQTRAIN_DOWNLOAD_MIRROR", server.url)
    result = cli("data", "download", "ud-zh-gsdsimp", "--data-dir", tmp_path / "data", "-q")
    assert result.code == 0, result.err
    got = tmp_path / "data" / "ud-zh-gsdsimp" / "zh_gsdsimp-ud-dev.conllu"
    assert got.read_bytes() == (root / "ud-zh-gsdsimp" / "zh_gsdsimp-ud-dev.conllu").read_bytes()
    assert "skipped" in result.out  # train/test have no pinned checksum yet


def test_download_help_names_every_corpus():
    result = cli("data", "download", "--help")
    assert result.code == 0, result.err
    assert [name for name in CORPORA if name not in result.out] == []
