"""`seqtrain data download NAME`: the official corpus files, fetched into the data root and verified.

Every file comes over https from a source pinned to a release tag or a commit, and its sha256 is
checked before it enters the data root: it is written to a hidden temporary file in the target
folder and renamed over the final name only once size and checksum match. An interrupted transfer,
a wrong checksum or Ctrl-C removes the temporary file, so a corpus folder only ever holds verified
files. Files already present with the pinned checksum are skipped.

Pinned checksums were computed from copies of the files taken at the pinned tag or commit. A few
files we have never had a copy of are listed without one ("-"); they are skipped with a message
unless --allow-unpinned is given, and then their sha256 is printed so it can be pinned here.

No archives are used: every file is fetched on its own, and its name is a fixed plain file name,
so nothing can be written outside the corpus folder.

Mirrors: $SEQTRAIN_DOWNLOAD_MIRROR (or `mirror=`) replaces the sources with one URL laid out like
a data root (MIRROR/ud-en-ewt/en_ewt-ud-train.conllu, ...). It must be https, except that
http://127.0.0.1 and http://localhost are allowed, for local mirrors and tests. Checksums still apply.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from seqtrain.core.errors import UserError

MIRROR_ENV = "SEQTRAIN_DOWNLOAD_MIRROR"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHUNK = 1 << 16
TIMEOUT = 60  # seconds without a byte before a transfer counts as failed


@dataclass(frozen=True)
class RemoteFile:
    name: str              # path under the source URL; the file keeps its last part as its name
    sha256: str | None     # None: no pinned checksum
    size: int | None


@dataclass(frozen=True)
class Corpus:
    name: str              # what `seqtrain data download NAME` takes
    folder: str            # its folder under the data root
    source: str            # https URL of the folder holding the files, pinned to a tag or commit
    files: tuple[RemoteFile, ...]


def parse_table(table: str) -> tuple[RemoteFile, ...]:
    """Lines of `sha256 size name`, like a SHA256SUMS file; '-' where no checksum is pinned."""
    files = []
    for line in table.strip().splitlines():
        digest, size, name = line.split()
        files.append(RemoteFile(name, None if digest == "-" else digest, None if size == "-" else int(size)))
    return tuple(files)


UD = "https://raw.githubusercontent.com/UniversalDependencies"
CORPORA = {c.name: c for c in [
    Corpus("ud-en-ewt", "ud-en-ewt", f"{UD}/UD_English-EWT/r2.16", parse_table("""
        b3d1b0f4c6ae151f7eb78738f46ebd5ee140f8a7f76501ba26af123140d35ae7     20014  LICENSE.txt
        3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b  14203025  en_ewt-ud-train.conllu
        531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6   1805545  en_ewt-ud-dev.conllu
        -                                                                        -  en_ewt-ud-test.conllu
    """)),
    Corpus("ud-zh-gsdsimp", "ud-zh-gsdsimp", f"{UD}/UD_Chinese-GSDSimp/r2.16", parse_table("""
        899b1804a12ebc090b96339614eede1b64b686721b650a71430b55b5235f7f79       202  LICENSE.txt
        -                                                                        -  zh_gsdsimp-ud-train.conllu
        342a2969df6d6d08bdc25dbc067c93c86ab3099bb054a9921ae7067cbc2c53ad   1180003  zh_gsdsimp-ud-dev.conllu
        -                                                                        -  zh_gsdsimp-ud-test.conllu
    """)),
    # 全唐诗 in traditional characters, pinned to a commit
    Corpus("tang", "chinese-poetry-tang",
           "https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/fa1814a8044db4fb0c7a9e0a0449974e8c3463b7",
           parse_table("""
        c195319aeaa3ffcbe16aa5d26eec19eae5a42f84337dd2b3dc3c9d5ccbbd6507      1076  LICENSE
        4f88f429938082523cdc72a1612bd7a7c3e3f7a33f8192c61ae51340efc3c92d    408405  全唐诗/poet.tang.0.json
        6e703b8d8dcedbd6110f6d48d043665ca2131db2035a5bfcef5e59a19aeb6d75    477519  全唐诗/poet.tang.1000.json
        ec28efa7e2ae9cdbbba09f0ed186e32ccae47a325ad1e5816b7ad56071c1665a    417948  全唐诗/poet.tang.2000.json
        9e4ba2323752b6b9fbdba875cdbc6a26636fe0cabc85fd066370d4915952001f    453811  全唐诗/poet.tang.3000.json
        b8a7946c879b9658a6c667a4c55f776fae7e5e00a17789ab06b274c1429afc66    488655  全唐诗/poet.tang.4000.json
        a0306e6962cff01639ad9a00b042a201b8dec1f30fa5d768a7b112589887861e    467225  全唐诗/poet.tang.5000.json
        982a21d2b15922b406911f1c825785054314c686da86b2155d7aebb362d22771    470031  全唐诗/poet.tang.6000.json
        a6fb69d7b4343c904dc56ae5aae34facc2478d196b51c37ceba9d1e2f171b342    474558  全唐诗/poet.tang.7000.json
        ac3848e95b02736168003863795de4474838c2d6a71a24ca2a4a280ea5177773    574248  全唐诗/poet.tang.8000.json
        b99d6596e3a1fe1a661652383083f92d196b8baf4e461d087081d5e1e1b7a51f    476882  全唐诗/poet.tang.9000.json
        b97d1c5509ab62f5b433dee2020c11c4deda4542e276683d1ada6619c34c2113    613029  全唐诗/poet.tang.10000.json
        9adf1835246053c821d99af39ce9092e14a94e1baf91740098bd9fc6f6f1cd27    445111  全唐诗/poet.tang.11000.json
        ec43d055a219d52ecdb58cd30a8a444189392f0d68b92a41495df1c72c5fd095    440019  全唐诗/poet.tang.12000.json
        eb9c85072d7913bb972e07c72f0123e9d7addca22cfd833cb79a5d74b1c76ebf    420898  全唐诗/poet.tang.13000.json
        1e366dd3fb5a011091524bed36e4edff5d015bf0ddb14143f298515387dbd9a9    409199  全唐诗/poet.tang.14000.json
        0386e58f46517daa3af0e0f385e0223f1efc0dac53afbe8fea64f99074d870b7    422310  全唐诗/poet.tang.15000.json
        1c477aef1fc50523f9baf10f29d2d89201a14c4c73001c1c041d0fe8464d11db    380057  全唐诗/poet.tang.16000.json
        11bac8333b2042975b9844423d113ff2c6fdf701c8b08a5b3aaa6bc9472222de    485658  全唐诗/poet.tang.17000.json
        37543a147d16e3576d5f45ba8f7b8b51fc311bc10eddae9440f16f2d5ae885c2    537556  全唐诗/poet.tang.18000.json
        dea74b41bc807ce2527bb119862a251e3a92b6f69bdf9f98b1434a8336830542    431381  全唐诗/poet.tang.19000.json
        8ccf0783888b15bec60d0253e278cd4b67e94a77725df8ed079d4d8062d050b4    477671  全唐诗/poet.tang.20000.json
        bddae814c82bf6a9fd294504aa48794bca5f03e986110739b1577aa811125cbd    572847  全唐诗/poet.tang.21000.json
        d7e7efe3f67415455ae93974a5aa67427e99f6713fde27920bfb657ad3204c4a    557450  全唐诗/poet.tang.22000.json
        220a535a762349ec1beed00f1dc11293ccefc70bda15c5258bbcab208b14337f    444324  全唐诗/poet.tang.23000.json
        2f40a4ec0e4469c29f0f028d7a4ad73b83850aa271be9b63ea0c08de6e094dee    462622  全唐诗/poet.tang.24000.json
        7e7c00ba3f7a95e97de5440f85affa9d54b420d31995b449e97a3e9ea00259f5    410976  全唐诗/poet.tang.25000.json
        74b5bed25622da1611928fdb31297fafadaf2876ce32ddb0c8b6d12d772979f4    392620  全唐诗/poet.tang.26000.json
        11626fcc310bbbcc601f7c8c4d8a664cef4907076cd7ec4f16268ee5b921ba44    373469  全唐诗/poet.tang.27000.json
        -                                                                        -  全唐诗/poet.tang.28000.json
        e1a0cffe17b4f109399db38f2b23f9b6668b8ca1c3c24e36d5cbe4f40a925862    432343  全唐诗/poet.tang.29000.json
        e71996f771d15476bae48751081b473b381774b5d335f6163b183f70a2eaed01    394062  全唐诗/poet.tang.30000.json
        f1efaf172d4f6fa9aaacfa4160feb766189989c3264da6ce3a6d64a7c97097bb    406846  全唐诗/poet.tang.31000.json
        fcb2096245719199249ad23e75eac6997b5a4341564dd1cf73ce8008975b3d74    417563  全唐诗/poet.tang.32000.json
        35abb37f65817ee4630cfeb2db286832e505873c477e12f14693bcd20e920885    438157  全唐诗/poet.tang.33000.json
        4b656a62b6a187792c96a632c7e33f443eabda8b48c4fb5dfdda72cf02003095    416020  全唐诗/poet.tang.34000.json
        a9671b350e58b805fda88b2c17fa0bf3a05313017d28485010e6f60a69bdf945    381490  全唐诗/poet.tang.35000.json
        1c8e71a32743b37d318bf8beb44b8809a8079011231cf3c7106e2c59f03c55b4    393811  全唐诗/poet.tang.36000.json
        4c37d2d92ee6fdd73299ef13c91e17b9cbb11ef59d1e024254db1eceb95dc7ae    376582  全唐诗/poet.tang.37000.json
        08b2ce85e59eac59fe621921b62c15528e9dfb6a102994297703ad67e14aa83f    400487  全唐诗/poet.tang.38000.json
        791d0171fe1dc88cee8424ae0281f495ed0dcdf042f97f2a3fc9b37e05e9426c    404803  全唐诗/poet.tang.39000.json
        851d0c3cb796c7f7c63a7765e28564b2c3be3d9691c9f43f88d4d3c64034b5d8    361783  全唐诗/poet.tang.40000.json
        3c12f59a5103e582eed9fe6ae13affddc030a31e9956efb13cb7768296ba7396    376339  全唐诗/poet.tang.41000.json
        060026beb06028864bce48e8074e2690f92a1dc5a76ee91f98f2d62b5f02a15c    390623  全唐诗/poet.tang.42000.json
        de5e658dccbcf0d2b38312b39a2423459b88ef893830bc145d453d82887a5753    430665  全唐诗/poet.tang.43000.json
        8c6d550818f5390413bc58fbb3af059d3fa4a92264b1bcf84439c2b0bb043985    400949  全唐诗/poet.tang.44000.json
        5177a4747b785f04897c36b77d5e033b11a7bcad759d1557fdb425166b8767f3    439632  全唐诗/poet.tang.45000.json
        287e548147e6959306b74c862a1ebe43cdca39adee34e2c63ae5d3b5eaced1f5    402034  全唐诗/poet.tang.46000.json
        8b43cce475ed43b1105a12a8bdcef32ac22dc056c5f2c616a2976a4103b5d8ac    389163  全唐诗/poet.tang.47000.json
        8df4861e8d7bc114e91d0a5e37d193f662485cd88b8d09289cc5ac9ab243c3ed    323882  全唐诗/poet.tang.48000.json
        418e5a082cb70c4f85ce842affec8828a53f6296882e45339c74d553fc46495e    402881  全唐诗/poet.tang.49000.json
        894bf4e729932d2b48ba731a48075347cf55626c08ac9f30b2fe412ca9e4e895    609835  全唐诗/poet.tang.50000.json
        9bd1b263807c5c64bca773b76d4861a49af19b76184f88260d6080bb03311928    549433  全唐诗/poet.tang.51000.json
        1124f4b27f46bd1ffaafdda530719eddbe41858778a0a13e4557ea4eb49ffef0    561704  全唐诗/poet.tang.52000.json
        75841062fa939e72ee12669859933c9178b88a5c5492bc9ba84d9ef7c6f1e65a    480142  全唐诗/poet.tang.53000.json
        cd2ba326b80ff8490723ad9fb1ace812306f0e433b74268420165068b0a975ac    467600  全唐诗/poet.tang.54000.json
        3782736dfee847958363d4adeff1236f148aff3726f2964963b17b06dad2f97b    442729  全唐诗/poet.tang.55000.json
        274ad6e13c069e35856e53b5dee6821ad2aa9bf8b2a5f969e2eb1234fe954bca    470081  全唐诗/poet.tang.56000.json
        -                                                                        -  全唐诗/poet.tang.57000.json
    """)),
    # named entities: Universal NER v1 (pinned to the commits the shared copies come from; their READMEs
    # give the commits by their first 8 hex digits) and WNUT-17. The UNER English train file is the
    # repository's released one, which the shared copy is not (a first version), so it is unpinned.
    Corpus("uner-en-ewt", "uner-en-ewt", "https://raw.githubusercontent.com/UniversalNER/UNER_English-EWT/8ed072de",
           parse_table("""
        -                                                                        -  en_ewt-ud-train.iob2
        0cafd881cf31d39897b6d588420fab8fbbe4423d271725c59921ac9dd49c0713    620415  en_ewt-ud-dev.iob2
        -                                                                        -  en_ewt-ud-test.iob2
    """)),
    Corpus("uner-zh-gsdsimp", "uner-zh-gsdsimp",
           "https://raw.githubusercontent.com/UniversalNER/UNER_Chinese-GSDSIMP/1f030759", parse_table("""
        a03b5260c3d960aa711ff5f12b797de5c7d7f412563593c173cd0e7135001db5   2088494  zh_gsdsimp-ud-train.iob2
        8aeab3ac662468e258a65f887844c50cee8311cb080b60a421ff7aa8a05e8032    267445  zh_gsdsimp-ud-dev.iob2
        -                                                                        -  zh_gsdsimp-ud-test.iob2
    """)),
    Corpus("wnut17", "wnut17", "https://raw.githubusercontent.com/leondz/emerging_entities_17/e52a2d2a", parse_table("""
        731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5    493781  wnut17train.conll
        e053b752b8155113ca66e7db08af5f2f5f43ab993694e4774f1ec5bad42312d8    114749  emerging.dev.conll
        -                                                                        -  emerging.test.annotated
    """)),
]}


@dataclass
class Outcome:
    path: Path
    status: str            # downloaded, present, skipped
    sha256: str | None
    note: str = ""


def download(name: str | Corpus, root: Path, *, mirror: str | None = None, allow_unpinned: bool = False,
             force: bool = False, quiet: bool = False, display: "transfer_display | None" = None) -> list[Outcome]:
    """Fetch every file of a corpus into ROOT/<folder>; raises UserError on the first failure
    (files already verified stay, the failed one leaves nothing behind). `display` shows the
    transfers (default: a progress bar per file, or nothing when quiet)."""
    corpus = name if isinstance(name, Corpus) else find_corpus(name)
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    urls = [file_url(corpus, remote, mirror) for remote in corpus.files]  # refuse before writing anything
    folder = Path(root) / corpus.folder
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{folder}: cannot create the corpus folder ({e.strerror or e})") from None
    outcomes = []
    try:
        with display or transfer_display(quiet) as display:
            for url, remote in zip(urls, corpus.files):
                outcomes.append(fetch_one(url, folder, remote, display, allow_unpinned=allow_unpinned,
                                          force=force, mirror=bool(mirror)))
    except BaseException:
        if created and not any(folder.iterdir()):  # a failed first download leaves no empty folder
            folder.rmdir()
        raise
    return outcomes


def find_corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise UserError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    return CORPORA[name]


def file_url(corpus: Corpus, remote: RemoteFile, mirror: str | None) -> str:
    if mirror:
        check_url(mirror, mirror=True)
        url = f"{mirror.rstrip('/')}/{urllib.parse.quote(corpus.folder)}/{urllib.parse.quote(local_name(remote))}"
    else:
        url = f"{corpus.source}/{urllib.parse.quote(remote.name)}"
    check_url(url, mirror=bool(mirror))
    return url


def local_name(remote: RemoteFile) -> str:
    """The file's name in the corpus folder: its last path part, refused if it could leave the folder."""
    name = remote.name.rsplit("/", 1)[-1]
    if name in ("", ".", "..") or "\\" in name or name.startswith("."):
        raise UserError(f"{remote.name}: not a plain file name")
    return name


def check_url(url: str, mirror: bool = False) -> None:
    """https only; a mirror may also be plain http on this machine's loopback address."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if mirror and parts.scheme == "http" and parts.hostname in LOOPBACK:
        return
    allowed = " (or http://127.0.0.1 for a local mirror)" if mirror else ""
    raise UserError(f"{url}: refused: downloads use https only{allowed}")


class HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect must obey the same rule as the first URL."""

    def __init__(self, mirror: bool):
        self.mirror = mirror

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl, self.mirror)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch_one(url: str, folder: Path, remote: RemoteFile, display, *, allow_unpinned: bool, force: bool,
              mirror: bool) -> Outcome:
    target = folder / local_name(remote)
    if target.exists():
        if remote.sha256 is None:
            return Outcome(target, "present", None, "not verified: no pinned checksum")
        digest = sha256_of(target)
        if digest == remote.sha256:
            return Outcome(target, "present", digest)
        if not force:
            raise UserError(f"{target}: already exists but its sha256 is {digest}, not the pinned "
                            f"{remote.sha256}; move it away or pass --force to replace it")
    if remote.sha256 is None and not allow_unpinned:
        return Outcome(target, "skipped", None, "no pinned sha256 (--allow-unpinned)")
    digest = transfer(url, target, remote, display, mirror)
    note = "" if remote.sha256 else "unverified: no pinned sha256"
    return Outcome(target, "downloaded", digest, note)


def transfer(url: str, target: Path, remote: RemoteFile, display, mirror: bool = False) -> str:
    """Stream URL into a hidden file beside TARGET, verify it, rename it into place. Returns the sha256."""
    opener = urllib.request.build_opener(HttpsOnlyRedirects(mirror))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with opener.open(url, timeout=TIMEOUT) as response, open(tmp, "wb") as out:
            announced = response.headers.get("Content-Length")
            expected = int(announced) if announced and announced.isdigit() else remote.size
            task = display.add(target.name, expected)
            h, received = hashlib.sha256(), 0
            while chunk := response.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                received += len(chunk)
                display.advance(task, len(chunk))
            out.flush()
            os.fsync(out.fileno())
        check_received(url, received, announced, remote)
        digest = h.hexdigest()
        if remote.sha256 is not None and digest != remote.sha256:
            raise UserError(f"{url}: sha256 mismatch: got {digest}, expected {remote.sha256}; "
                            f"the file was not kept")
        os.replace(tmp, target)
        return digest
    except urllib.error.HTTPError as e:
        raise UserError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise UserError(f"{url}: cannot connect: {e.reason}") from None
    except (http.client.HTTPException, OSError) as e:  # resets, timeouts, a full disk
        raise UserError(f"{url}: transfer failed ({type(e).__name__}: {e}); nothing was kept, "
                        f"run the command again") from None
    finally:
        tmp.unlink(missing_ok=True)


def check_received(url: str, received: int, announced: str | None, remote: RemoteFile) -> None:
    if announced and announced.isdigit() and received != int(announced):
        raise UserError(f"{url}: transfer interrupted after {received} of {announced} bytes; "
                        f"nothing was kept, run the command again")
    if remote.size is not None and received != remote.size:
        raise UserError(f"{url}: got {received} bytes, expected {remote.size}; the file was not kept")


# ---------------------------------------------------------------- progress display

class transfer_display:
    """A rich progress bar per file (stderr), or nothing when quiet."""

    def __init__(self, quiet: bool):
        self.progress = None
        if not quiet:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                     TransferSpeedColumn(), TimeRemainingColumn(),
                                     console=Console(stderr=True), transient=True)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def add(self, name: str, total: int | None):
        return self.progress.add_task(name, total=total) if self.progress is not None else None

    def advance(self, task, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(task, n)


def print_outcomes(outcomes: list[Outcome]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title_justify="left", title=str(outcomes[0].path.parent) if outcomes else None)
    for column in ("file", "status", "sha256", "note"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.path.name, o.status, o.sha256 if o.note.startswith("unverified") else (o.sha256 or "-")[:16],
                      o.note)
    Console().print(table)
