"""The words and times of ``report.pdf``: labels in 简体中文 and English, local times with their
offset, the development-service marks, and the statements of what the evidence proves.

Languages (the ``report_language`` setting): ``zh-CN``, ``en``, or ``both`` (each heading and
label in Chinese then English, ``中文 / English``). Times are stored in UTC; the report shows
them in an IANA time zone (the ``timezone`` setting), always with the offset:
``2026-12-07 15:30:00 +08:00``.

The statements about the PRC Electronic Signature Law (电子签名法) Article 13 and the Supreme
People's Court Online Litigation Rules (人民法院在线诉讼规则) Articles 16–19 say what the
evidence shows technically and what it does not; they are not legal advice.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asn1crypto import cms, tsp

from sealtrail.anchoring.devtsa import DEV_POLICY_OID

LANGUAGES = ("zh-CN", "en", "both")
DEFAULT_LANGUAGE = "both"
DEFAULT_TIMEZONE = "Asia/Shanghai"
#: chain ids of development chains: Ganache (1337) and Hardhat/Anvil (31337)
DEV_CHAIN_IDS = frozenset({1337, 31337})
#: what the development TSA writes in its certificates' organisation (anchoring/devtsa.py)
_DEV_TSA_ORG = "Sealtrail development"

#: label key → (简体中文, English)
TEXT: dict[str, tuple[str, str]] = {
    "title": ("电子证据证书", "Certificate of evidence"),
    "subtitle": ("Sealtrail 证据账本", "Sealtrail evidence ledger"),
    "cover": ("证书概要", "Summary"),
    "certified": ("证明对象", "What is certified"),
    "for": ("申请方", "Made for"),
    "operator": ("运营方（账本）", "Operator (ledger)"),
    "ledger_key": ("账本公钥", "Ledger key"),
    "made": ("生成时间", "Made at"),
    "timezone": ("时区", "Time zone"),
    "digest_note": ("页脚所印摘要", "Digest on every page"),
    "dev": ("开发环境服务 —— 不可作为可信证据", "Development services — not trusted evidence"),
    "dev_tsa": (
        "时间戳来自 Sealtrail 内置的开发用时间戳服务（TSA），不是可信时间来源。",
        "The timestamps come from Sealtrail's built-in development TSA, not a trusted time source.",
    ),
    "dev_chain": (
        "锚定所在区块链（链 ID {chain}）是开发用测试链，不是公共区块链。",
        "The anchors are on a development chain (chain id {chain}), not a public blockchain.",
    ),
    "parties": ("签署过程（按参与方）", "The ceremony, by party"),
    "party": ("参与方", "Party"),
    "timeline": ("全部事件时间线", "Timeline of every event"),
    "n": ("序号", "#"),
    "recorded": ("记录时间", "Recorded"),
    "event": ("事件", "Event"),
    "who": ("参与方", "Who"),
    "seal_docs": ("印章 / 文件", "Seal / documents"),
    "existed_by": ("最迟存在时间", "Existed by"),
    "not_stamped": ("未加时间戳", "not stamped"),
    "more_events": ("另有 {n} 个事件，见 events/", "{n} more events in events/"),
    "seal": ("印章", "seal"),
    "seal_picture": (
        "印章图样取自导出时的印章登记，不属于本证据包的证明内容。",
        "Seal pictures come from the seal registry at export time; they are not part of what "
        "the package proves.",
    ),
    "documents": ("文件指纹（SHA-256）", "Document fingerprints (SHA-256)"),
    "no_documents": ("这些事件未涉及任何文件。", "The events name no document."),
    "checkpoints": ("检查点、可信时间戳与区块链锚定", "Checkpoints, timestamps and anchors"),
    "size": ("大小", "size"),
    "root": ("根哈希", "root (hex)"),
    "timestamp": ("RFC 3161 时间戳", "timestamp (RFC 3161)"),
    "anchor": ("锚定", "anchor"),
    "pending": ("待处理", "pending"),
    "target": ("目标检查点 {size}：{reason}。", "Target checkpoint {size}: {reason}."),
    "howto": ("如何手工核验", "How to check by hand"),
    "howto_checkpoint": (
        "检查点：用账本公钥（certs/ledger.pub）验证 checkpoints/*.note 的 Ed25519 签名"
        "（VERIFY.md 第 2 节）。",
        "Checkpoint: verify the Ed25519 signature of checkpoints/*.note with the ledger key "
        "(certs/ledger.pub; VERIFY.md §2).",
    ),
    "howto_tst": (
        "时间戳：openssl ts -verify -data checkpoints/<大小>.note -in checkpoints/<大小>.tst "
        "-token_in -CAfile <TSA 根证书>（VERIFY.md 第 4 节）。",
        "Timestamp: openssl ts -verify -data checkpoints/<size>.note -in "
        "checkpoints/<size>.tst -token_in -CAfile <the TSA's root> (VERIFY.md §4).",
    ),
    "howto_anchor": (
        "锚定：向该链的任一节点查询交易回执与合约 anchorOf 调用（VERIFY.md 第 5 节）。",
        "Anchor: ask any node of that chain for the transaction receipt and call the "
        "contract's anchorOf (VERIFY.md §5).",
    ),
    "howto_tool": (
        "全部检查：sealtrail verify <证据包>.zip，或按 VERIFY.zh-CN.md / VERIFY.md 逐步操作。",
        "Everything at once: sealtrail verify <package>.zip, or step by step with VERIFY.md / "
        "VERIFY.zh-CN.md.",
    ),
    "proves": ("本报告证明什么、如何证明", "What this proves and how"),
    "not_advice": (
        "以下是对技术证据的客观说明，不构成法律意见。",
        "Plain statements of what the evidence shows technically; not legal advice.",
    ),
    "not_proven": ("本证据包不能证明的内容", "What this package does NOT prove"),
    "portal": ("公共核验入口", "Public portal entry"),
    "page": ("第 {x} 页 共 {y} 页", "page {x} of {y}"),
    "facts_digest": ("报告事实 SHA-256（sealtrail-facts.json）", "report facts SHA-256"),
    "checkpoint_short": ("目标检查点", "target checkpoint"),
}

#: (evidence, 简体中文, English): what each piece of evidence shows, and under which provision
PROVES: tuple[tuple[str, str, str], ...] = (
    (
        "电子签名法第十三条第一款第（三）、（四）项 / Electronic Signature Law Art. 13(1)(3)–(4)",
        "签署后对电子签名及数据电文内容和形式的改动能够被发现："
        "每个事件以规范字节（RFC 8785）记录，其哈希进入只增不改的默克尔日志（RFC 9162）；"
        "同一流中的事件以哈希链相连；文件以 SHA-256 指纹记录，文件的任何改动都会改变指纹。",
        "Any later change to a signature's record or to a document is detectable: each event is "
        "recorded as canonical bytes (RFC 8785) whose hash is in an append-only Merkle log "
        "(RFC 9162), a stream's events are hash-chained, and documents are named by SHA-256 "
        "fingerprints that change with any change to the file.",
    ),
    (
        "人民法院在线诉讼规则第十六条 / SPC Online Litigation Rules Art. 16",
        "上链后未被篡改：检查点的根哈希写入区块链（锚定），包含证明与一致性证明把每个事件连到该检查点；"
        "任何人可用公开工具复核（VERIFY.md），无需运营方数据库。",
        "Not altered after being anchored: the checkpoint's root is written to a blockchain, and "
        "inclusion and consistency proofs tie every event to it; anyone can re-check with open "
        "tools (VERIFY.md), without the operator's database.",
    ),
    (
        "存证时间 / Time of existence",
        "每个检查点带有 RFC 3161 可信时间戳：事件最迟在包含它的最早检查点的时间戳时刻已经存在。",
        "Each checkpoint carries an RFC 3161 timestamp: an event existed no later than the time "
        "stamped on the earliest checkpoint that holds it.",
    ),
    (
        "人民法院在线诉讼规则第十七、十八条 / SPC Online Litigation Rules Arts. 17–18",
        "上链前数据的来源：每个事件记录写入它的租户和（经由服务的）API 密钥、参与方身份与角色"
        "（由接入系统提供）及其 IP 等属性；这些说明数据从何而来，但其真实性取决于接入系统。",
        "Where data came from before it was recorded: each event names the tenant that wrote it, "
        "the parties' identity and role as the integrating system stated them, and attributes "
        "such as the IP address; this shows the source, but its truth rests on that system.",
    ),
    (
        "人民法院在线诉讼规则第十九条 / SPC Online Litigation Rules Art. 19",
        "可供鉴定：证据包自成一体（格式见 docs/FORMAT.md），"
        "专家可用 openssl、sha256sum、python3 独立核验。",
        "Open to expert examination: the package is self-contained (format in docs/FORMAT.md); "
        "an expert can check it with openssl, sha256sum and python3 alone.",
    ),
)

#: what is never proven (any package): (简体中文, English)
NEVER_PROVEN: tuple[tuple[str, str], ...] = (
    (
        "电子签名法第十三条第一款第（一）、（二）项：签名制作数据专属于签名人且仅由其控制——"
        "这由签名证书与文件上的签名（PAdES）证明，不由本账本证明。",
        "Electronic Signature Law Art. 13(1)(1)–(2), that signature creation data belonged to and "
        "was controlled by the signer alone: shown by the signing certificate and the signature "
        "on the document (PAdES), not by this ledger.",
    ),
    (
        "事件内容在记录时是否真实：账本证明记录此后未被改动，而不证明接入系统所述属实。",
        "That what an event states was true when recorded: the ledger proves the record was not "
        "changed since, not that the integrating system told the truth.",
    ),
    (
        "“记录时间”来自运营方的时钟；可证明的时间是“最迟存在时间”（RFC 3161）。",
        "“Recorded” times are the operator's clock; the provable time is “existed by” (RFC 3161).",
    ),
)


def text(key: str, lang: str, **fmt: object) -> str:
    """The label ``key`` in ``lang`` (``both``: Chinese / English), ``fmt`` filled in."""
    zh, en = TEXT[key]
    return pair(zh.format(**fmt), en.format(**fmt), lang)


def pair(zh: str, en: str, lang: str) -> str:
    """``zh``, ``en`` or ``zh / en`` as ``lang`` asks."""
    if lang == "zh-CN":
        return zh
    if lang == "en":
        return en
    return f"{zh} / {en}"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError if it is unknown (the ``tzdata`` package ships
    the database, so this does not depend on the machine)."""
    if not isinstance(name, str) or not 0 < len(name) <= 64 or name.startswith(("/", ".")):
        raise ValueError(f"time zone {name!r}: want an IANA name such as Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is unknown, want an IANA name") from None


def local_time(stamp: str | None, tz: ZoneInfo) -> str:
    """An RFC 3339 UTC time (``2026-12-07T07:30:00.000000Z``) shown in ``tz`` with its offset,
    to the second: ``2026-12-07 15:30:00 +08:00``. A value that is not such a time is shown as
    it is (the report never fails on one); None as ``-``."""
    if stamp is None:
        return "-"
    try:
        t = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if t.tzinfo is None:
        return str(stamp)
    local = t.astimezone(tz)
    off = local.strftime("%z") or "+0000"
    return local.strftime("%Y-%m-%d %H:%M:%S ") + off[:3] + ":" + off[3:5]


def is_dev_tsa_token(token: bytes) -> bool:
    """Whether an RFC 3161 token comes from Sealtrail's development TSA: its TSTInfo policy is
    the development policy, or a certificate it carries names the development organisation.
    False for anything unparsable (it is then not marked; the verifier judges the token)."""
    try:
        info = cms.ContentInfo.load(token)
        signed = info["content"]
        tst = tsp.TSTInfo.load(signed["encap_content_info"]["content"].parsed.dump())
        if tst["policy"].dotted == DEV_POLICY_OID:
            return True
        for cert in signed["certificates"] or []:
            subject = cert.chosen.subject.native
            if _DEV_TSA_ORG in str(subject.get("organization_name", "")):
                return True
    except Exception:  # asn1crypto raises many kinds on malformed input
        return False
    return False
