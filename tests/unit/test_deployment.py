"""The deployment files, checked statically against the code they drive (Docker cannot run here).

``docker-compose.yml``, ``Dockerfile`` and ``.dockerignore`` must name only real settings, CLI
commands, routes, services, volumes and secrets; the development chain must be started the way
``scripts/run.sh`` starts it; ``docs/OPERATIONS.md`` must list every setting and metric and
only CLI commands that exist.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import pytest
import yaml
from aiohttp import web
from click.testing import CliRunner

from sealtrail.api import openapi, routes_public
from sealtrail.api import settings as settings_mod
from sealtrail.api.cli import main as cli_main
from sealtrail.api.context import Metrics
from sealtrail.api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
RUN_SH = ROOT / "scripts" / "run.sh"
README = ROOT / "README.md"

#: SEALTRAIL_* names that are not settings but that settings.load accepts
SPECIAL_ENV = {"SEALTRAIL_CONFIG"}
#: CLI commands OPERATIONS.md documents ahead of their code; each test of one is a strict
#: xfail, so it fails (XPASS) as soon as the command exists and must be taken off this list
PENDING_COMMANDS: dict[str, str] = {}


# -- reading the files ----------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svcs = compose.get("services")
    assert isinstance(svcs, dict)
    assert svcs, "no services"
    return svcs


def is_ours(svc: Mapping[str, Any]) -> bool:
    """A service running the image built from our Dockerfile."""
    return "build" in svc or str(svc.get("image", "")).startswith("sealtrail:")


def environment(svc: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment (map or list form); variables without a value are left out."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env if "=" in item]
        return {k: v for k, v in pairs}
    return {str(k): str(v) for k, v in env.items() if v is not None}


def depends_on(svc: Mapping[str, Any]) -> dict[str, str]:
    """{service: condition} (the list form means service_started)."""
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def volume_mounts(svc: Mapping[str, Any]) -> list[tuple[str | None, str, bool]]:
    """(source or None, target, read_only) for every volume entry, short or long syntax."""
    out: list[tuple[str | None, str, bool]] = []
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) == 1:
                out.append((None, parts[0], False))
            else:
                out.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            out.append((v.get("source"), v["target"], bool(v.get("read_only"))))
    return out


def is_named(source: str | None) -> bool:
    return source is not None and not source.startswith((".", "/", "~", "$"))


def published_ports(svc: Mapping[str, Any]) -> list[tuple[str | None, int, int]]:
    """(host ip, host port, container port) for every published port."""
    out: list[tuple[str | None, int, int]] = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip"), int(p["published"]), int(p["target"])))
            continue
        spec = str(p).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append((None, int(parts[0]), int(parts[1])))
        else:
            out.append((None, int(parts[0]), int(parts[0])))
    return out


def command_list(svc: Mapping[str, Any], key: str = "command") -> list[str]:
    cmd = svc.get(key)
    if cmd is None:
        return []
    return [str(c) for c in cmd] if isinstance(cmd, list) else shlex.split(str(cmd))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for item in shlex.split(rest):
                key, sep, value = item.partition("=")
                assert sep, f"ENV {rest!r}: use KEY=VALUE"
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return [str(v) for v in value]


def healthcheck_command() -> str:
    checks = [rest for word, rest in final_stage() if word == "HEALTHCHECK"]
    assert len(checks) == 1, "the final stage needs exactly one HEALTHCHECK"
    _, sep, cmd = checks[0].partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {checks[0]}"
    return cmd.strip()


def operations_text() -> str:
    return OPERATIONS.read_text()


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    nxt = text.find("\n## ", start + len(heading))
    return text[start : nxt if nxt != -1 else len(text)]


def code_spans(text: str) -> Iterator[str]:
    """Lines of fenced code blocks, then inline code spans of the prose."""
    prose: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            yield line
        else:
            prose.append(line)
    yield from re.findall(r"`([^`\n]+)`", "\n".join(prose))


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^ *```{lang}\n(.*?)^ *```", text, flags=re.S | re.M)


def cli_invocations(lines: Iterator[str] | list[str]) -> Iterator[list[str]]:
    """The words after each ``sealtrail`` that runs the CLI (``.venv/bin/sealtrail``,
    ``docker compose run SERVICE`` with the image's entrypoint, ``exec SERVICE sealtrail``)."""
    for line in lines:
        toks = line.split()
        for i, tok in enumerate(toks):
            if tok.rsplit("/", 1)[-1] != "sealtrail":
                continue
            before = [t for t in toks[:i] if not t.startswith("-")]
            if before and before[-1] == "exec":
                continue  # `docker compose exec sealtrail PROGRAM …`: the service name
            if "--entrypoint" in toks[:i]:
                continue  # another program than the CLI
            words: list[str] = []
            for t in toks[i + 1 :]:
                if not re.fullmatch(r"[a-z][a-z-]*", t):
                    break
                words.append(t)
            if words:
                yield words


def resolve(words: list[str]) -> list[str]:
    """The longest prefix of ``words`` naming a command or group of the ``sealtrail`` CLI."""
    path: list[str] = []
    cmd: click.Command = cli_main
    for w in words:
        if not isinstance(cmd, click.Group) or w not in cmd.commands:
            break
        cmd = cmd.commands[w]
        path.append(w)
    return path


def assert_cli_help(path: list[str]) -> None:
    """``sealtrail PATH --help`` works, and PATH names a command, not a group."""
    assert path, "not a sealtrail command"
    cmd: click.Command = cli_main
    for w in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[w]
    assert not isinstance(cmd, click.Group), f"sealtrail {' '.join(path)} needs a subcommand"
    r = CliRunner().invoke(cli_main, [*path, "--help"])
    assert r.exit_code == 0, f"sealtrail {' '.join(path)} --help: {r.output}"
    assert "Usage:" in r.output


def ganache_flags(tokens: list[str]) -> dict[str, str | None]:
    """{flag: value or None} of a Ganache command line (``--a.b v``, ``--a.b=v``, ``--a.b``)."""
    flags: dict[str, str | None] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if not tok.startswith("--"):
            continue
        name, sep, value = tok[2:].partition("=")
        if sep:
            flags[name] = value
            continue
        nxt = tokens[i] if i < len(tokens) else None
        if nxt is None or nxt.startswith(("-", ">", "&", "2>")):
            flags[name] = None
        else:
            flags[name] = nxt
            i += 1
    return flags


def run_sh_ganache() -> tuple[dict[str, str | None], str]:
    """run.sh's Ganache flags and its default port."""
    text = RUN_SH.read_text().replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith('node "$GANACHE"'))
    port = re.search(r"GANACHE_PORT:-(\d+)", text)
    assert port is not None
    return ganache_flags(shlex.split(line)), port.group(1)


# -- docker-compose.yml: structure ----------------------------------------------------------


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, f"{name}: neither image nor build"


def test_depends_on_names_services_and_health_conditions_have_health_checks(
    services: dict[str, dict[str, Any]],
) -> None:
    image_has_healthcheck = any(word == "HEALTHCHECK" for word, _ in final_stage())

    def has_healthcheck(svc: Mapping[str, Any]) -> bool:
        hc = svc.get("healthcheck")
        if isinstance(hc, dict) and hc.get("disable"):
            return False
        return hc is not None or (is_ours(svc) and image_has_healthcheck)

    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    seen = 0
    for name, svc in services.items():
        for dep, condition in depends_on(svc).items():
            seen += 1
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name
            assert condition in conditions, f"{name} → {dep}: {condition}"
            if condition == "service_healthy":
                assert has_healthcheck(services[dep]), f"{name} waits for {dep} to be healthy"
            if condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", f"{dep} is a one-off job"
    assert seen, "no depends_on at all"


def test_named_volumes_and_secrets_are_declared(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    declared_secrets = set(compose.get("secrets") or {})
    used_volumes: set[str] = set()
    for name, svc in compose["services"].items():
        for source, target, _ in volume_mounts(svc):
            assert target.startswith("/"), f"{name}: volume target {target}"
            if is_named(source):
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"
                used_volumes.add(str(source))
        for s in svc.get("secrets") or []:
            secret = s if isinstance(s, str) else s["source"]
            assert secret in declared_secrets, f"{name} uses undeclared secret {secret}"
    assert used_volumes == declared_volumes, "declared volumes nobody mounts"


def test_sealtrail_environment_names_real_settings_that_parse(
    services: dict[str, dict[str, Any]],
) -> None:
    names = {f"SEALTRAIL_{f.name.upper()}" for f in fields(Settings)}
    ours = {n: s for n, s in services.items() if is_ours(s)}
    assert ours, "no service runs the sealtrail image"
    for name, svc in services.items():
        env = environment(svc)
        for key in env:
            if key.startswith("SEALTRAIL_"):
                assert key in names | SPECIAL_ENV, f"{name}: {key} is not a setting"
        if name in ours:
            # Only parsing is checked: file settings name paths inside the container.
            s = settings_mod.load(environ=env)
            assert str(s.data_dir) == "/data"
            assert s.chain_key is None, "the chain key must come from a file, not the environment"
    for key in dockerfile_env(final_stage()):
        if key.startswith("SEALTRAIL_"):
            assert key in names, f"Dockerfile: {key} is not a setting"
    settings_mod.load(environ=dockerfile_env(final_stage()))


def test_no_secret_values_inline(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for key, value in environment(svc).items():
            assert key not in ("SEALTRAIL_CHAIN_KEY", "SEALTRAIL_SEAL_KEY"), f"{name}: {key}"
            assert not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", value), f"{name}: a key in {key}"
    assert not re.search(r"0x[0-9a-fA-F]{64}", COMPOSE.read_text())


def test_published_port_is_the_listen_port_on_localhost(
    services: dict[str, dict[str, Any]],
) -> None:
    image_env = dockerfile_env(final_stage())
    served = 0
    for name, svc in services.items():
        ports = published_ports(svc)
        for host_ip, _, _ in ports:
            assert host_ip == "127.0.0.1", f"{name}: publish on 127.0.0.1 only (docs say so)"
        if not is_ours(svc) or command_list(svc) != ["serve"]:
            continue
        served += 1
        listen = environment(svc).get("SEALTRAIL_LISTEN") or image_env["SEALTRAIL_LISTEN"]
        host, port = settings_mod.listen_address(
            settings_mod.load(environ={"SEALTRAIL_LISTEN": listen})
        )
        assert host == "0.0.0.0", f"{name}: listen on all interfaces inside the container"
        assert [p[2] for p in ports] == [port], f"{name}: publishes {ports}, listens on {port}"
    assert served >= 2, "want two serve workers (the second may sit in a profile)"


def serve_workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if is_ours(s) and command_list(s) == ["serve"]}


def test_workers_share_the_database_and_the_data_volume(
    services: dict[str, dict[str, Any]],
) -> None:
    """Workers are grouped by database: each group shares one data volume (the same keys), no
    two groups share one (a data directory's checkpoint key is bound to one database), and the
    default deployment (no profile) runs on PostgreSQL."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for name, svc in serve_workers(services).items():
        url = settings_mod.load(environ=environment(svc)).db_url
        assert url is not None, f"{name}: several workers need a shared database"
        groups.setdefault(url, {})[name] = svc
    default_urls = {url for url, ws in groups.items() for s in ws.values() if not s.get("profiles")}
    assert len(default_urls) == 1
    assert default_urls.pop().startswith("postgresql://"), "PostgreSQL is the default example"
    assert any(url.startswith("mongodb://") for url in groups), "the MongoDB profile is kept"
    volumes_of: dict[str, str] = {}
    for url, workers in groups.items():
        data_volumes = set()
        for s in workers.values():
            data_dir = environment(s)["SEALTRAIL_DATA_DIR"]
            data_volumes |= {src for src, target, _ in volume_mounts(s) if target == data_dir}
        assert len(data_volumes) == 1, f"workers mount different data volumes: {data_volumes}"
        volume = str(data_volumes.pop())
        assert volume not in volumes_of.values(), f"{volume} serves two databases"
        volumes_of[url] = volume
    host_ports = [p[1] for s in services.values() for p in published_ports(s)]
    assert len(host_ports) == len(set(host_ports)), "two services on one host port"


def test_postgres_workers_name_the_primary_and_its_synchronous_standby(
    services: dict[str, dict[str, Any]],
) -> None:
    url = environment(services["sealtrail"])["SEALTRAIL_DB_URL"]
    parts = urlsplit(url)
    hosts = [h.rsplit(":", 1) for h in parts.netloc.rpartition("@")[2].split(",")]
    assert [h for h, _ in hosts] == ["postgres-primary", "postgres-standby"]
    assert parse_qs(parts.query)["target_session_attrs"] == ["read-write"]
    db = parts.path.lstrip("/")
    user = parts.netloc.rpartition("@")[0]
    primary, standby = services["postgres-primary"], services["postgres-standby"]
    for svc, (_, port) in zip((primary, standby), hosts, strict=True):
        assert str(svc["image"]).startswith("postgres:")
        env = environment(svc)
        assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == (user, db)
        assert port == "5432"
        mounts = {target for _, target, _ in volume_mounts(svc)}
        assert "/var/lib/postgresql/data" in mounts
    p_script = "\n".join(command_list(primary))
    s_script = "\n".join(command_list(standby))
    # the primary: replication, and the standby it waits for
    assert "wal_level=replica" in p_script
    assert "synchronous_commit=on" in p_script
    name = re.search(r"synchronous_standby_names = '(\w+)'", p_script)
    assert name is not None
    assert "CREATE ROLE replicator WITH REPLICATION LOGIN" in p_script
    assert "host replication replicator" in p_script
    assert "exec docker-entrypoint.sh postgres" in p_script
    # the standby: a base backup of the primary, named as the primary expects, no waiting of
    # its own once promoted
    assert "pg_basebackup -h postgres-primary" in s_script
    assert " -R" in s_script
    assert f"application_name={name.group(1)}" in s_script
    assert "synchronous_standby_names = ''" in s_script
    assert depends_on(standby) == {"postgres-primary": "service_healthy"}
    for worker in ("sealtrail-init", "sealtrail", "sealtrail-2"):
        deps = depends_on(services[worker])
        assert deps["postgres-primary"] == deps["postgres-standby"] == "service_healthy"
    assert "pg_stat_wal_receiver" in " ".join(standby["healthcheck"]["test"])
    assert "-h" in primary["healthcheck"]["test"], "TCP: init runs a socket-only server"


def test_mongo_is_the_replica_set_the_url_names(services: dict[str, dict[str, Any]]) -> None:
    url = environment(services["sealtrail-mongo"])["SEALTRAIL_DB_URL"]
    parts = urlsplit(url)
    rs = parse_qs(parts.query)["replicaSet"][0]
    host, port = parts.hostname, parts.port or 27017
    assert host in services, f"the URL names {host}, not a compose service"
    mongo = services[str(host)]
    assert str(mongo["image"]).startswith("mongo:")
    cmd = command_list(mongo)
    assert cmd[cmd.index("--replSet") + 1] == rs
    assert "--bind_ip_all" in cmd
    test = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in test
    assert f"_id: '{rs}'" in test
    assert f"host: '{host}:{port}'" in test, "the member must be reachable by the URL's name"
    assert "isWritablePrimary" in test, "healthy only once PRIMARY"
    assert ("127.0.0.1", 27017, port) in published_ports(mongo), "docs §5 connects there"
    mounts = {target for _, target, _ in volume_mounts(mongo)}
    assert "/data/db" in mounts


def test_ganache_runs_with_the_flags_of_run_sh(services: dict[str, dict[str, Any]]) -> None:
    ganache = services["ganache"]
    assert ganache["image"] == "trufflesuite/ganache:v7.9.2"
    ours = ganache_flags(command_list(ganache))
    theirs, default_port = run_sh_ganache()
    assert set(ours) == set(theirs)
    for flag in ("chain.chainId", "miner.blockTime", "wallet.deterministic", "logging.quiet"):
        assert ours[flag] == theirs[flag], flag
    assert ours["server.port"] == default_port
    assert ours["server.host"] == "0.0.0.0", "other containers must reach it"
    mounts = [target for src, target, _ in volume_mounts(ganache) if is_named(src)]
    for flag in ("database.dbPath", "wallet.accountKeysPath"):
        path = PurePosixPath(str(ours[flag]))
        assert any(path.is_relative_to(m) for m in mounts), f"{flag} is not on a volume"
    hc = " ".join(ganache["healthcheck"]["test"])
    assert f"port: {default_port}" in hc
    rpc = environment(services["sealtrail"])["SEALTRAIL_CHAIN_RPC_URL"]
    assert urlsplit(rpc).hostname == "ganache"
    assert str(urlsplit(rpc).port) == default_port


def test_init_job_copies_ganache_account_key_into_the_workers_data_volume(
    services: dict[str, dict[str, Any]],
) -> None:
    init = services["sealtrail-init"]
    keys_path = str(ganache_flags(command_list(services["ganache"]))["wallet.accountKeysPath"])
    script = "\n".join(command_list(init))
    assert keys_path in script
    assert '["private_keys"]' in script, "the key file of --wallet.accountKeysPath"
    assert "umask 077" in script
    ganache_volumes = {s: t for s, t, _ in volume_mounts(services["ganache"]) if is_named(s)}
    init_mounts = {s: (t, ro) for s, t, ro in volume_mounts(init)}
    src = next(s for s, t in ganache_volumes.items() if keys_path.startswith(t + "/"))
    assert init_mounts[src] == (ganache_volumes[src], True), "the chain's volume, read-only"
    key_file = environment(init)["SEALTRAIL_CHAIN_KEY_FILE"]
    assert re.search(rf"(>|mv \S+ ){re.escape(key_file)}(\s|$)", script), "writes the key file"
    for name in ("sealtrail", "sealtrail-2"):
        env = environment(services[name])
        assert env["SEALTRAIL_CHAIN_KEY_FILE"] == key_file
        data = env["SEALTRAIL_DATA_DIR"]
        assert PurePosixPath(key_file).is_relative_to(data)
        worker_data = {s for s, t, _ in volume_mounts(services[name]) if t == data}
        assert worker_data == {s for s, (t, _) in init_mounts.items() if t == data}


def test_compose_commands_are_cli_commands(services: dict[str, dict[str, Any]]) -> None:
    found: dict[str, list[list[str]]] = {}
    for name, svc in services.items():
        if not is_ours(svc):
            continue
        entry = command_list(svc, "entrypoint")
        if not entry:  # the image's entrypoint, `sealtrail`
            found[name] = [command_list(svc)]
        else:
            assert entry[0] in ("/bin/sh", "sh"), f"{name}: entrypoint {entry}"
            found[name] = list(cli_invocations("\n".join(command_list(svc)).splitlines()))
    for name, invocations in found.items():
        assert invocations, f"{name} runs no sealtrail command"
        for words in invocations:
            path = resolve(words)
            assert path, f"{name}: sealtrail {' '.join(words)} is not a command"
            assert_cli_help(path)
    assert [resolve(w) for w in found["sealtrail-init"]] == [["init"], ["contract", "deploy"]]


# -- Dockerfile and .dockerignore -----------------------------------------------------------


def test_dockerfile_final_stage_runs_serve_as_non_root_with_health_check() -> None:
    stage = final_stage()
    base = stage[0][1].split()[0]
    assert base.startswith("python:3.11-slim"), base
    users = [rest for word, rest in stage if word == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert json.loads(next(r for w, r in stage if w == "ENTRYPOINT")) == ["sealtrail"]
    cmd = exec_form(next(r for w, r in stage if w == "CMD"))
    assert cmd == ["serve"]
    assert_cli_help(resolve(cmd))
    env = dockerfile_env(stage)
    exposed = {int(p.split("/")[0]) for w, r in stage if w == "EXPOSE" for p in r.split()}
    _, port = settings_mod.listen_address(settings_mod.load(environ=env))
    assert exposed == {port}
    volumes = [v for w, r in stage if w == "VOLUME" for v in exec_form(r)]
    assert volumes == [env["SEALTRAIL_DATA_DIR"]]


def test_health_check_asks_a_real_route_with_urllib() -> None:
    argv = exec_form(healthcheck_command())
    assert argv[:2] == ["python", "-c"], "slim images have no curl: use Python"
    code = argv[2]
    ast.parse(code)
    assert "urllib" in code
    m = re.search(r"http://[^/'\"\s]+(/[\w./-]*)", code)
    assert m is not None
    path = m.group(1)
    assert path == "/healthz"
    app = web.Application()
    routes_public.setup(app)
    gets = {
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "GET" and r.resource is not None
    }
    assert path in gets
    assert "get" in openapi.spec()["paths"][path]


def test_dockerfile_installs_the_package_without_dev_extras() -> None:
    ins = dockerfile_instructions()
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert re.search(r"pip install (--[\w-]+ )*\.(\s|$)", runs), "pip install ."
    assert "[dev]" not in runs
    copied = [p for w, r in ins if w == "COPY" and "--from" not in r for p in r.split()[:-1]]
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    for needed in ("pyproject.toml", readme, "sealtrail"):
        assert needed in copied, f"the build needs {needed}"


def test_the_image_has_no_playwright_because_nothing_imports_it() -> None:
    """Playwright is a dev (test) tool: the image installs no dev extra, and no module of the
    package may need it."""
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    assert "playwright" not in runs
    for path in (ROOT / "sealtrail").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            for mod in mods:
                assert mod.split(".")[0] != "playwright", f"{path} imports {mod}"


def test_dockerignore_keeps_out_local_state_but_not_what_the_build_copies() -> None:
    patterns = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]

    def ignored(path: str) -> bool:
        parts = PurePosixPath(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatch.fnmatch(p, pat.removeprefix("**/")) or fnmatch.fnmatch(p, pat)
            for pat in patterns
            if not pat.startswith("!")
            for p in prefixes
        )

    for path in (".venv", "node_modules", "data", ".git", ".pytest_cache", "data/ledger.key"):
        assert ignored(path), f"{path} would be sent to the build"
    copied = [
        p
        for w, r in dockerfile_instructions()
        if w == "COPY" and "--from" not in r
        for p in r.split()[:-1]
    ]
    for path in [
        *copied,
        "sealtrail/api/cli/__init__.py",
        "sealtrail/anchoring/SealtrailAnchor.json",
    ]:
        assert not ignored(path), f".dockerignore drops {path}, which the build copies"


# -- docs/OPERATIONS.md and README.md -------------------------------------------------------


def render_default(value: Any) -> str:
    """How the configuration table shows a default."""
    if value is None:
        return "unset"
    if value == ():
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def test_operations_lists_every_setting_with_its_env_var_and_default() -> None:
    table = section(operations_text(), "## 1. Configuration reference")
    rows: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    want = {f.name: f for f in fields(Settings)}
    assert set(rows) == set(want), "the table and Settings differ"
    for name, f in want.items():
        cells = rows[name]
        assert len(cells) == 4, cells
        assert cells[1] == f"`SEALTRAIL_{name.upper()}`"
        shown = render_default(f.default)
        assert cells[2] == shown or cells[2].startswith((shown + ":", shown + " (")), (
            f"{name}: default {cells[2]!r}, want {shown}"
        )
        assert cells[3], f"{name}: no meaning given"


def test_operations_names_every_metric_and_no_other() -> None:
    text = operations_text()
    exposed = set()
    for family in Metrics().registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        exposed.add(name)
        assert re.search(rf"`{name}[`{{]", text), f"{name} is not documented"
    mentioned = set(re.findall(r"\bsealtrail_[a-z_]+[a-z]\b", text))
    assert mentioned <= exposed, f"documented but not exported: {mentioned - exposed}"


def _documented_commands() -> list[Any]:
    paths: dict[str, list[str]] = {}
    for words in cli_invocations(list(code_spans(operations_text()))):
        path = resolve(words) or words[:1]
        paths[" ".join(path)] = path
    params = []
    for key, path in sorted(paths.items()):
        marks = []
        if path[0] in PENDING_COMMANDS:
            marks.append(pytest.mark.xfail(reason=PENDING_COMMANDS[path[0]], strict=True))
        params.append(pytest.param(path, id=key, marks=marks))
    return params


@pytest.mark.parametrize("path", _documented_commands())
def test_operations_commands_exist(path: list[str]) -> None:
    assert resolve(path) == path, f"sealtrail {' '.join(path)} is not a command"
    assert_cli_help(path)


def test_operations_covers_the_commands_it_must() -> None:
    documented = {" ".join(p.values[0]) for p in _documented_commands()}
    for cmd in ("init", "contract deploy", "audit", "serve", "anchors", "migrate"):
        assert cmd in documented, cmd


def test_operations_production_block_uses_declared_secrets_and_real_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    blocks = [b for b in fenced_blocks(operations_text(), "yaml") if "secrets:" in b]
    assert len(blocks) == 1, "one production compose block"
    prod = yaml.safe_load(blocks[0])
    declared = set(prod["secrets"])
    for name, svc in prod["services"].items():
        assert name in services
        mounted = set()
        for s in svc.get("secrets") or []:
            secret = s if isinstance(s, str) else s["source"]
            assert secret in declared
            mounted.add(s if isinstance(s, str) else s.get("target", secret))
        env = {**environment(services[name]), **environment(svc)}
        s = settings_mod.load(environ=env)
        assert s.chain_key is None
        for path in (s.chain_key_file, s.seal_key_file, *s.tsa_ca_files):
            assert path is not None
            assert path.parent == Path("/run/secrets"), f"{path} is not a secret"
            assert path.name in mounted, f"{path}: secret {path.name} is not mounted"
    for spec in prod["secrets"].values():
        assert "file" in spec, "a file secret (compose has no other kind without swarm)"


def test_readme_points_to_operations_and_the_compose_file() -> None:
    text = README.read_text()
    m = re.search(r"^## Deployment\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert m is not None, "README has no Deployment section"
    assert "docs/OPERATIONS.md" in m.group(1)
    assert "docker-compose.yml" in m.group(1)
