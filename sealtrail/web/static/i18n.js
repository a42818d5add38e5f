// English and Simplified Chinese strings for the portal and the console, and the switch between
// them (the choice is remembered in localStorage). Markup names its strings with data-i18n
// (text), data-i18n-placeholder and data-i18n-aria-label; scripts call t(key, vars).

const STRINGS = {
  en: {
    "lang.label": "Language",
    "skip": "Skip to content",
    "portal.title": "Sealtrail — verify a document",
    "portal.heading": "Verify a document",
    "portal.intro":
      "Choose or drop a file to see what the evidence ledger records about it. The file is fingerprinted (SHA-256) in this browser and never leaves it; only the fingerprint is sent.",
    "portal.drop": "Drop a file here, or press to choose one",
    "portal.drop.hint": "PDF or any other file — it is not uploaded",
    "portal.or_fp": "…or look up a SHA-256 fingerprint",
    "portal.fp.label": "SHA-256 fingerprint (64 hex digits)",
    "portal.fp.button": "Look up",
    "portal.fp.invalid": "A SHA-256 fingerprint is 64 hexadecimal digits.",
    "portal.hashing": "Computing the fingerprint of {name} in this browser…",
    "portal.asking": "Asking the ledger about {fp}…",
    "portal.fp.file": "Fingerprint of your file {name} (computed in this browser): {fp}",
    "portal.fp.link": "Fingerprint from the link (no file was checked here): {fp}",
    "portal.key.heading": "The key this page trusts",
    "portal.key.server":
      "Served by this server, in the same answer. A dishonest server could send its own key too: compare it with the key your operator published, or paste that key below.",
    "portal.key.pasted": "Pasted by you (obtained from the operator out of band).",
    "portal.key.none": "No key yet: it arrives with the first answer, unless you paste one.",
    "portal.key.label": "Verifier key from the operator (name+hash+key)",
    "portal.key.use": "Use this key",
    "portal.key.reset": "Use the server's key",
    "portal.key.bad": "This is not a valid verifier key: {reason}",
    "portal.result.heading": "Result",
    "verdict.verified": "Verified",
    "verdict.refused": "Refused — the answer did not verify",
    "verdict.pending": "Recorded, not yet sealed",
    "verdict.notfound": "Not found",
    "verdict.error": "Could not check",
    "verdict.absent": "Not recorded — proven",
    "portal.absent":
      "No event in this ledger names a file with this fingerprint as of checkpoint {size} — proven by the checkpoint's map (a non-inclusion proof checked by this page), not just asserted by the server. A file that differs by a single byte has a different fingerprint.",
    "map.complete": "These are all {count} events naming this file as of checkpoint {size} (proven by the checkpoint's map).",
    "map.none": "No event names this file as of checkpoint {size} (proven by the checkpoint's map).",
    "map.notchecked": "Whether these are all the events naming this file was not checked: {reason}",
    "map.failed": "The map proof that these are all the events naming this file failed: {reason}",
    "map.reason.before": "checkpoint {size} was sealed before the map existed (it commits to no map).",
    "map.reason.nocheckpoint": "there is no signed checkpoint yet.",
    "map.reason.capped": "the map counts {count} events but the answer lists only {shown} (its limit).",
    "checked.map.complete": "The checkpoint's map (root from its signed note) holds this file's {count} events exactly as listed (map inclusion proof, {n} hashes).",
    "checked.map.none": "The checkpoint's map (root from its signed note) holds no event for this file (map non-inclusion proof, {n} hashes).",
    "map.heading": "Map proof",
    "map.status": "Result",
    "map.root": "Map root",
    "map.siblings": "Hashes",
    "map.status.complete": "all listed",
    "map.status.none": "none",
    "map.status.failed": "failed",
    "map.status.not_checked": "not checked",
    "portal.notfound":
      "This ledger has no record of a file with this fingerprint. A file that differs by a single byte has a different fingerprint.",
    "portal.pending":
      "The ledger recorded this file, but the record is not yet in a signed checkpoint, so it cannot be proven yet. Try again in a minute.",
    "portal.refused":
      "The server's answer failed a check this page made itself, so nothing it says about this file is shown as verified. Reason: {reason}",
    "portal.sentence.events": "This exact file was {actions}.",
    "portal.sentence.action": "{type} on {time}",
    "portal.sentence.and": " and ",
    "portal.sentence.list": ", ",
    "portal.sentence.anchored":
      "The ledger's checkpoint of {size} events that includes it was anchored on chain {chain} in block {block} ({confirmations} confirmations, {status}).",
    "portal.sentence.notanchored": "Its checkpoint is not anchored on a chain ({status}).",
    "portal.sentence.stamped": "The checkpoint was time-stamped by {tsa} at {time}.",
    "portal.sentence.notstamped": "The checkpoint has no trusted timestamp yet ({status}).",
    "checked.heading": "Checked by this page itself",
    "taken.heading": "Taken from the server's word",
    "checked.fingerprint": "The SHA-256 fingerprint of your file ({fp}).",
    "checked.signature": "The checkpoint (size {size}) is signed by the verifier key {key} (Ed25519, Web Crypto).",
    "checked.root": "The checkpoint's root hash in the JSON equals the root in the signed note.",
    "checked.inclusion": "Event #{index} (leaf hash {leaf}…) is included in that checkpoint (RFC 9162 inclusion proof, {n} hashes).",
    "taken.names": "That these events name your file: their content is private, so only their leaf hashes are public.",
    "taken.types": "Each event's type and the time the server recorded it.",
    "taken.timestamp": "The RFC 3161 timestamp (TSA and genTime): this page does not parse the token.",
    "taken.anchor": "The anchor (chain, transaction, block, confirmations): check it on a chain node of your own (docs/FORMAT.md §6.3).",
    "taken.key": "The verifier key itself — unless you pasted the operator's key.",
    "failed.check": "Failed: {what}",
    "events.heading": "Events naming this file",
    "col.index": "Event",
    "col.type": "Type",
    "col.recorded": "Recorded ({zone})",
    "col.proof": "Inclusion proof",
    "proof.ok": "verified here",
    "proof.none": "not yet in a checkpoint",
    "proof.bad": "REFUSED",
    "cp.heading": "Checkpoint",
    "cp.size": "Size",
    "cp.root": "Root",
    "cp.created": "Sealed at",
    "ts.heading": "Trusted timestamp",
    "ts.tsa": "TSA",
    "ts.gentime": "genTime",
    "ts.serial": "Serial",
    "ts.status": "Status",
    "anchor.heading": "Chain anchor",
    "anchor.status": "Status",
    "anchor.chain": "Chain id",
    "anchor.contract": "Contract",
    "anchor.tx": "Transaction",
    "anchor.block": "Block",
    "anchor.confirmations": "Confirmations",
    "pkg.heading": "Verify a certification package",
    "pkg.intro":
      "Drop a certification package (.zip). It is sent to this server, whose offline verifier checks every part of it and reports each check.",
    "pkg.drop": "Drop a package here, or press to choose one",
    "pkg.checking": "Checking {name}…",
    "pkg.unavailable": "This server cannot check packages yet.",
    "pkg.status.passed": "Every check passed",
    "pkg.status.incomplete": "Nothing failed, but some checks were not made",
    "pkg.status.failed": "At least one check failed",
    "pkg.col.check": "Check",
    "pkg.col.status": "Result",
    "pkg.col.reason": "Reason",
    "pkg.col.detail": "Detail",
    "pdfv.heading": "Validate a signed PDF",
    "pdfv.intro":
      "Drop a signed PDF (a contract you received, say). It is sent to this server, which checks every signature and says whose seal signed it, if the seal is registered here. Nothing is stored.",
    "pdfv.drop": "Drop a signed PDF here, or press to choose one",
    "pdfv.checking": "Checking the signatures of {name}…",
    "pdfv.unavailable": "This server cannot validate PDFs.",
    "pdfv.status.passed": "Every signature is intact, valid and trusted",
    "pdfv.status.indeterminate": "No signature failed, but not every one could be trusted",
    "pdfv.status.failed": "At least one signature failed",
    "pdfv.status.none": "This PDF has no signature",
    "pdfv.scope":
      "Trusted means: the signer's certificate chains to a certification authority this server's operator configured for seals. This is the server's word; check the signatures yourself with a PDF reader that trusts the same authorities.",
    "pdfv.col.field": "Signature",
    "pdfv.col.status": "Result",
    "pdfv.col.subject": "Signed by (certificate subject)",
    "pdfv.col.issuer": "Issued by",
    "pdfv.col.root": "Trusted root",
    "pdfv.col.seal": "Seal registered here",
    "pdfv.sig.passed": "trusted",
    "pdfv.sig.indeterminate": "not trusted",
    "pdfv.sig.failed": "failed",
    "pdfv.root.none": "none: not trusted",
    "pdfv.seal.of": "{seal} of tenant {tenant}",
    "pdfv.seal.none": "not registered here",
    "status.passed": "passed",
    "status.failed": "failed",
    "status.not_checked": "not checked",
    "err.network": "The server could not be reached: {reason}",
    "err.http": "The server answered {status}: {detail}",
    "err.nocrypto":
      "This browser offers no Web Crypto here (pages served over plain HTTP from another machine do not get it). Open the page over HTTPS.",
    "type.initiate": "submitted for signing",
    "type.approve": "approved",
    "type.reject": "rejected",
    "type.sign": "signed",
    "type.view": "viewed",
    "type.download": "downloaded",
    "type.revoke": "revoked",
    "type.export": "exported",
    "console.title": "Sealtrail — auditor console",
    "console.heading": "Auditor console",
    "login.heading": "Sign in with an auditor API key",
    "login.key": "API key",
    "login.button": "Sign in",
    "login.note": "The key stays in this browser tab (session storage) and is sent only as an Authorization header to this server.",
    "login.bad": "This key was refused: {detail}",
    "logout": "Sign out",
    "whoami": "Signed in as an auditor of {tenant} (key {key}). Times in {zone}.",
    "nav.events": "Events",
    "nav.overview": "Overview",
    "nav.group": "Group",
    "filter.heading": "Search events",
    "filter.stream": "Stream",
    "filter.type": "Type",
    "filter.actor": "Actor id",
    "filter.document": "Document SHA-256",
    "filter.from": "Recorded from ({zone})",
    "filter.to": "Recorded before ({zone})",
    "filter.tenant": "Tenant",
    "filter.tenant.all": "All I can see",
    "filter.limit": "Per page",
    "filter.search": "Search",
    "filter.clear": "Clear",
    "results.count": "{n} events on this page (page {page}).",
    "results.none": "No event matches.",
    "page.next": "Next page",
    "page.prev": "Previous page",
    "col.tenant": "Tenant",
    "col.stream": "Stream",
    "col.actor": "Actor",
    "col.details": "Details",
    "detail.heading": "Event #{index}",
    "detail.close": "Close",
    "detail.open": "Open event {index}",
    "detail.checks": "Proof status (checked in this browser)",
    "detail.leaf": "Leaf hash recomputed from the event's canonical bytes matches the server's.",
    "detail.leaf.bad": "The event's canonical bytes hash to {got}, the server says {want}.",
    "detail.pending": "Not yet in a checkpoint: it will be in the next one.",
    "detail.verified": "Proof verified",
    "detail.refused": "Proof REFUSED",
    "export.heading": "Export this query",
    "export.jsonl": "Export JSONL",
    "export.csv": "Export CSV",
    "export.zip": "Certification package",
    "export.progress.bytes": "{bytes} received…",
    "export.done.bytes": "Done: {bytes} — saved as {file}.",
    "export.progress": "{rows} rows, {bytes} received…",
    "export.done": "Done: {rows} rows, {bytes} — saved as {file}.",
    "export.failed": "Export failed: {reason}",
    "export.cancel": "Cancel",
    "timeline.heading": "Events per day by type (last {days} days, days of {zone})",
    "timeline.days": "Days",
    "timeline.table": "Show as a table",
    "timeline.total": "{n} events in this period.",
    "timeline.day": "Day",
    "timeline.sum": "Total",
    "anchors.heading": "Anchoring of recent checkpoints",
    "anchors.summary":
      "{final} final, {waiting} not final yet among the latest {shown}; the oldest not final has waited {lag}.",
    "anchors.off": "No chain is configured: checkpoints are signed and time-stamped, not anchored.",
    "anchors.col.size": "Checkpoint",
    "anchors.col.created": "Sealed at",
    "anchors.col.ts": "Timestamp",
    "anchors.col.status": "Anchor",
    "anchors.col.block": "Block",
    "anchors.col.conf": "Confirmations",
    "anchors.col.lag": "Lag",
    "group.heading": "Per tenant",
    "group.col.tenant": "Tenant",
    "group.col.events": "Events",
    "group.col.last": "Latest event",
    "group.col.seals": "Seal uses",
    "group.noseals": "n/a",
    "loading": "Loading…",
  },
  "zh-CN": {
    "lang.label": "语言",
    "skip": "跳到正文",
    "portal.title": "Sealtrail — 文件核验",
    "portal.heading": "核验文件",
    "portal.intro": "选择或拖入一个文件，查看证据账本对它的记录。文件的指纹（SHA-256）在本浏览器中计算，文件不会离开浏览器，只发送指纹。",
    "portal.drop": "将文件拖到此处，或点击选择文件",
    "portal.drop.hint": "PDF 或其他任何文件——不会上传",
    "portal.or_fp": "……或直接查询 SHA-256 指纹",
    "portal.fp.label": "SHA-256 指纹（64 位十六进制）",
    "portal.fp.button": "查询",
    "portal.fp.invalid": "SHA-256 指纹应为 64 位十六进制数字。",
    "portal.hashing": "正在本浏览器中计算 {name} 的指纹……",
    "portal.asking": "正在向账本查询 {fp}……",
    "portal.fp.file": "您的文件 {name} 的指纹（在本浏览器中计算）：{fp}",
    "portal.fp.link": "来自链接的指纹（本页未核对任何文件）：{fp}",
    "portal.key.heading": "本页信任的验证公钥",
    "portal.key.server": "由本服务器在同一应答中提供。不诚实的服务器也可以发送自己的公钥：请与运营方公布的公钥比对，或在下方粘贴该公钥。",
    "portal.key.pasted": "由您粘贴（从运营方通过其他渠道获得）。",
    "portal.key.none": "尚无公钥：除非您粘贴一个，否则它随第一次应答一起到达。",
    "portal.key.label": "运营方提供的验证公钥（名称+哈希+公钥）",
    "portal.key.use": "使用此公钥",
    "portal.key.reset": "使用服务器的公钥",
    "portal.key.bad": "这不是有效的验证公钥：{reason}",
    "portal.result.heading": "结果",
    "verdict.verified": "已验证",
    "verdict.refused": "已拒绝——应答未通过验证",
    "verdict.pending": "已记录，尚未封存",
    "verdict.notfound": "未找到",
    "verdict.error": "无法核验",
    "verdict.absent": "无记录——已证明",
    "portal.absent":
      "截至检查点 {size}，本账本中没有任何事件指向此指纹对应的文件——这由该检查点的映射证明（本页已自行核验不包含证明），而不仅是服务器的说法。哪怕只差一个字节，文件的指纹也完全不同。",
    "map.complete": "截至检查点 {size}，指向此文件的事件共 {count} 个，即以上全部（由检查点的映射证明）。",
    "map.none": "截至检查点 {size}，没有任何事件指向此文件（由检查点的映射证明）。",
    "map.notchecked": "未核验这些是否为指向此文件的全部事件：{reason}",
    "map.failed": "证明这些为指向此文件的全部事件的映射证明未通过：{reason}",
    "map.reason.before": "检查点 {size} 封存于映射启用之前（未承诺任何映射）。",
    "map.reason.nocheckpoint": "尚无已签名的检查点。",
    "map.reason.capped": "映射记录了 {count} 个事件，但应答只列出 {shown} 个（已达上限）。",
    "checked.map.complete": "检查点的映射（根哈希取自已签名说明）所记录的此文件事件恰为所列的 {count} 个（映射包含证明，{n} 个哈希）。",
    "checked.map.none": "检查点的映射（根哈希取自已签名说明）中没有此文件的任何事件（映射不包含证明，{n} 个哈希）。",
    "map.heading": "映射证明",
    "map.status": "结果",
    "map.root": "映射根",
    "map.siblings": "哈希数",
    "map.status.complete": "已列全",
    "map.status.none": "无",
    "map.status.failed": "未通过",
    "map.status.not_checked": "未核验",
    "portal.notfound": "本账本中没有此指纹对应文件的记录。哪怕只差一个字节，文件的指纹也完全不同。",
    "portal.pending": "账本已记录此文件，但该记录尚未进入已签名的检查点，暂时无法证明。请一分钟后再试。",
    "portal.refused": "服务器的应答未通过本页自行进行的核验，因此其关于此文件的任何说法都不作为已验证内容显示。原因：{reason}",
    "portal.sentence.events": "此文件（逐字节相同）已于{actions}。",
    "portal.sentence.action": "{time}{type}",
    "portal.sentence.and": "，并于",
    "portal.sentence.list": "，",
    "portal.sentence.anchored": "包含该记录的账本检查点（共 {size} 个事件）已锚定在链 {chain} 的第 {block} 号区块（{confirmations} 个确认，{status}）。",
    "portal.sentence.notanchored": "其检查点尚未锚定到区块链（{status}）。",
    "portal.sentence.stamped": "该检查点已由 {tsa} 于 {time} 加盖可信时间戳。",
    "portal.sentence.notstamped": "该检查点尚无可信时间戳（{status}）。",
    "checked.heading": "本页自行核验的内容",
    "taken.heading": "采信服务器的内容",
    "checked.fingerprint": "您的文件的 SHA-256 指纹（{fp}）。",
    "checked.signature": "检查点（大小 {size}）由验证公钥 {key} 签名（Ed25519，Web Crypto）。",
    "checked.root": "JSON 中的检查点根哈希与已签名说明中的根哈希一致。",
    "checked.inclusion": "事件 #{index}（叶哈希 {leaf}…）包含在该检查点中（RFC 9162 包含证明，{n} 个哈希）。",
    "taken.names": "这些事件指向您的文件：事件内容不公开，只公开其叶哈希。",
    "taken.types": "每个事件的类型及服务器记录的时间。",
    "taken.timestamp": "RFC 3161 时间戳（TSA 与 genTime）：本页不解析时间戳令牌。",
    "taken.anchor": "链上锚定（链、交易、区块、确认数）：请用您自己的链节点核对（docs/FORMAT.md §6.3）。",
    "taken.key": "验证公钥本身——除非您粘贴了运营方的公钥。",
    "failed.check": "未通过：{what}",
    "events.heading": "指向此文件的事件",
    "col.index": "事件",
    "col.type": "类型",
    "col.recorded": "记录时间（{zone}）",
    "col.proof": "包含证明",
    "proof.ok": "已在本页验证",
    "proof.none": "尚未进入检查点",
    "proof.bad": "已拒绝",
    "cp.heading": "检查点",
    "cp.size": "大小",
    "cp.root": "根哈希",
    "cp.created": "封存时间",
    "ts.heading": "可信时间戳",
    "ts.tsa": "时间戳服务",
    "ts.gentime": "genTime",
    "ts.serial": "序列号",
    "ts.status": "状态",
    "anchor.heading": "区块链锚定",
    "anchor.status": "状态",
    "anchor.chain": "链 ID",
    "anchor.contract": "合约",
    "anchor.tx": "交易",
    "anchor.block": "区块",
    "anchor.confirmations": "确认数",
    "pkg.heading": "核验存证包",
    "pkg.intro": "拖入一个存证包（.zip）。它会发送到本服务器，由离线验证器逐项检查并报告每项结果。",
    "pkg.drop": "将存证包拖到此处，或点击选择",
    "pkg.checking": "正在检查 {name}……",
    "pkg.unavailable": "本服务器暂不能检查存证包。",
    "pkg.status.passed": "全部检查通过",
    "pkg.status.incomplete": "没有检查失败，但部分检查未进行",
    "pkg.status.failed": "至少一项检查失败",
    "pkg.col.check": "检查项",
    "pkg.col.status": "结果",
    "pkg.col.reason": "原因",
    "pkg.col.detail": "详情",
    "pdfv.heading": "验证已签署的 PDF",
    "pdfv.intro":
      "拖入一份已签署的 PDF（例如您收到的合同）。它会发送到本服务器，由服务器检查每个签名，并在印章于本平台登记时说明是哪一方的印章签署的。不保存任何内容。",
    "pdfv.drop": "将已签署的 PDF 拖到此处，或点击选择",
    "pdfv.checking": "正在检查 {name} 的签名……",
    "pdfv.unavailable": "本服务器不能验证 PDF。",
    "pdfv.status.passed": "所有签名完整、有效且可信",
    "pdfv.status.indeterminate": "没有签名失败，但并非每个签名都可信",
    "pdfv.status.failed": "至少一个签名验证失败",
    "pdfv.status.none": "此 PDF 没有签名",
    "pdfv.scope":
      "“可信”指签名证书可链接到本服务器运营方为印章配置的证书颁发机构。这是服务器的判断；请用信任相同机构的 PDF 阅读器自行核验签名。",
    "pdfv.col.field": "签名",
    "pdfv.col.status": "结果",
    "pdfv.col.subject": "签署者（证书主体）",
    "pdfv.col.issuer": "颁发者",
    "pdfv.col.root": "可信根证书",
    "pdfv.col.seal": "本平台登记的印章",
    "pdfv.sig.passed": "可信",
    "pdfv.sig.indeterminate": "不可信",
    "pdfv.sig.failed": "失败",
    "pdfv.root.none": "无：不可信",
    "pdfv.seal.of": "租户 {tenant} 的印章 {seal}",
    "pdfv.seal.none": "未在本平台登记",
    "status.passed": "通过",
    "status.failed": "失败",
    "status.not_checked": "未检查",
    "err.network": "无法连接服务器：{reason}",
    "err.http": "服务器返回 {status}：{detail}",
    "err.nocrypto": "此浏览器在此页面上不提供 Web Crypto（通过普通 HTTP 从其他机器访问时不可用）。请通过 HTTPS 打开本页。",
    "type.initiate": "发起签署",
    "type.approve": "审批通过",
    "type.reject": "被驳回",
    "type.sign": "签署",
    "type.view": "被查看",
    "type.download": "被下载",
    "type.revoke": "被撤销",
    "type.export": "被导出",
    "console.title": "Sealtrail — 审计控制台",
    "console.heading": "审计控制台",
    "login.heading": "使用审计员 API 密钥登录",
    "login.key": "API 密钥",
    "login.button": "登录",
    "login.note": "密钥只保存在本浏览器标签页（会话存储）中，仅作为 Authorization 请求头发送给本服务器。",
    "login.bad": "此密钥被拒绝：{detail}",
    "logout": "退出",
    "whoami": "当前身份：{tenant} 的审计员（密钥 {key}）。时间按 {zone} 显示。",
    "nav.events": "事件",
    "nav.overview": "概览",
    "nav.group": "集团",
    "filter.heading": "检索事件",
    "filter.stream": "流",
    "filter.type": "类型",
    "filter.actor": "操作人 ID",
    "filter.document": "文件 SHA-256",
    "filter.from": "记录时间起（{zone}）",
    "filter.to": "记录时间止（{zone}，不含）",
    "filter.tenant": "租户",
    "filter.tenant.all": "我可查看的全部",
    "filter.limit": "每页条数",
    "filter.search": "检索",
    "filter.clear": "清除",
    "results.count": "本页 {n} 个事件（第 {page} 页）。",
    "results.none": "没有匹配的事件。",
    "page.next": "下一页",
    "page.prev": "上一页",
    "col.tenant": "租户",
    "col.stream": "流",
    "col.actor": "操作人",
    "col.details": "详情",
    "detail.heading": "事件 #{index}",
    "detail.close": "关闭",
    "detail.open": "打开事件 {index}",
    "detail.checks": "证明状态（在本浏览器中核验）",
    "detail.leaf": "根据事件规范字节重新计算的叶哈希与服务器给出的一致。",
    "detail.leaf.bad": "事件规范字节的哈希为 {got}，服务器给出的是 {want}。",
    "detail.pending": "尚未进入检查点：将包含在下一个检查点中。",
    "detail.verified": "证明已验证",
    "detail.refused": "证明已拒绝",
    "export.heading": "导出当前查询",
    "export.jsonl": "导出 JSONL",
    "export.csv": "导出 CSV",
    "export.zip": "存证包",
    "export.progress.bytes": "已接收 {bytes}……",
    "export.done.bytes": "完成：{bytes}，已保存为 {file}。",
    "export.progress": "已接收 {rows} 行，{bytes}……",
    "export.done": "完成：{rows} 行，{bytes}，已保存为 {file}。",
    "export.failed": "导出失败：{reason}",
    "export.cancel": "取消",
    "timeline.heading": "按类型统计的每日事件数（最近 {days} 天，按 {zone} 的日期）",
    "timeline.days": "天数",
    "timeline.table": "以表格显示",
    "timeline.total": "此期间共 {n} 个事件。",
    "timeline.day": "日期",
    "timeline.sum": "合计",
    "anchors.heading": "最近检查点的锚定状态",
    "anchors.summary": "最近 {shown} 个检查点中 {final} 个已最终确认，{waiting} 个尚未最终确认；最早未确认的已等待 {lag}。",
    "anchors.off": "未配置区块链：检查点已签名并加盖时间戳，但不锚定。",
    "anchors.col.size": "检查点",
    "anchors.col.created": "封存时间",
    "anchors.col.ts": "时间戳",
    "anchors.col.status": "锚定",
    "anchors.col.block": "区块",
    "anchors.col.conf": "确认数",
    "anchors.col.lag": "延迟",
    "group.heading": "按租户统计",
    "group.col.tenant": "租户",
    "group.col.events": "事件数",
    "group.col.last": "最近事件",
    "group.col.seals": "用印次数",
    "group.noseals": "不适用",
    "loading": "加载中……",
  },
};

// The signer's page (sign.html); merged into STRINGS below. The accessible names the tests and
// the issue fix are "sign.send", "sign.code", "sign.verify", "sign.pad", "sign.sign",
// "sign.decline" and "sign.download".
const SIGN_STRINGS = {
  en: {
    "sign.title": "Sealtrail — sign a document",
    "sign.heading": "Sign a document",
    "sign.invalid.heading": "This link is not valid",
    "sign.invalid.text":
      "It may have expired, been used already, or been mistyped. Ask the sender for a new link.",
    "sign.ask": "{sender} asks {signer} to sign this document.",
    "sign.deadline": "Sign before {time}.",
    "sign.deadline.none": "No deadline.",
    "sign.note.signed": "You have signed this document.",
    "sign.note.declined": "You declined to sign this document.",
    "sign.note.turn": "It is not your turn yet: an earlier signer has to sign first. You can confirm your identity and read the document now.",
    "sign.note.closed": "This envelope can no longer be signed ({state}).",
    "sign.state.sent": "sent",
    "sign.state.partly_signed": "partly signed",
    "sign.state.completed": "completed",
    "sign.state.declined": "declined",
    "sign.state.voided": "voided",
    "sign.state.expired": "expired",
    "sign.state.draft": "draft",
    "sign.step.identity": "Identity",
    "sign.step.document": "Read",
    "sign.step.sign": "Sign",
    "sign.step.done": "Done",
    "sign.identity.heading": "Confirm it is you",
    "sign.identity.where": "We send a one-time code to {address}. Enter it below.",
    "sign.identity.download": "To download the signed document, confirm it is you: we send a one-time code to {address}.",
    "sign.send": "Send code",
    "sign.code": "Code",
    "sign.verify": "Verify",
    "sign.sending": "Sending…",
    "sign.sent": "A code was sent to {address}. It is valid for {minutes} min.",
    "sign.resend": "You can ask for a new code in {seconds} s.",
    "sign.ratelimited": "Too many codes asked for. Try again in {seconds} s.",
    "sign.code.empty": "Enter the code you received.",
    "sign.code.noaddress": "No address was given to send you a code. Ask the sender to sign through their system, or for a new link.",
    "sign.code.wrong": "This code is not right. {n} attempts left.",
    "sign.code.wrong.one": "This code is not right. 1 attempt left.",
    "sign.locked": "Too many wrong codes: this link is locked. Try again in {minutes} min.",
    "sign.verified": "Identity confirmed.",
    "sign.session": "Your session has ended. Confirm your identity again.",
    "sign.document.heading": "The document",
    "sign.document.pages": "{n} pages.",
    "sign.document.pages.one": "1 page.",
    "sign.document.fields": "Where you sign is highlighted.",
    "sign.document.sha": "SHA-256: {sha}",
    "sign.page.alt": "Page {n} of {total}",
    "sign.field": "Your signature goes here",
    "sign.zoom": "Zoom",
    "sign.zoom.in": "Zoom in",
    "sign.zoom.out": "Zoom out",
    "sign.signing.heading": "Your signature",
    "sign.method.drawn": "Draw",
    "sign.method.typed": "Type",
    "sign.method.seal": "Seal",
    "sign.pad": "Signature pad",
    "sign.pad.hint": "Sign in the box with your finger, a pen or the mouse.",
    "sign.pad.undo": "Undo",
    "sign.pad.clear": "Clear",
    "sign.pad.empty": "Draw your signature in the box first.",
    "sign.typed.label": "Your name as it will appear",
    "sign.typed.style": "Style",
    "sign.typed.empty": "Type your name first.",
    "sign.seal.choose": "Choose a seal",
    "sign.seal.none": "Your organisation has no seal you may use for this envelope.",
    "sign.seal.empty": "Choose a seal first.",
    "sign.intent": "I have read the document and agree to sign",
    "sign.intent.missing": "Tick “I have read the document and agree to sign” first.",
    "sign.sign": "Sign",
    "sign.signing": "Signing…",
    "sign.conflict": "You cannot sign now: {detail}",
    "sign.refused": "The signature was refused: {detail}",
    "sign.done.heading": "Signed",
    "sign.done.partly": "Your signature was applied. The envelope waits for the other signers.",
    "sign.done.completed": "Your signature was applied. Every signer has signed: the envelope is complete.",
    "sign.done.signed": "You have signed this document.",
    "sign.download": "Download",
    "sign.decline": "Decline",
    "sign.decline.heading": "Decline to sign",
    "sign.decline.text": "The sender will see your reason. Nobody can sign this envelope after you decline.",
    "sign.decline.reason": "Reason",
    "sign.decline.confirm": "Confirm decline",
    "sign.decline.cancel": "Cancel",
    "sign.decline.empty": "Give a reason (at most 500 characters).",
    "sign.declined.heading": "You declined to sign",
    "sign.declined.text": "The sender has been told. Nobody can sign this envelope any more.",
  },
  "zh-CN": {
    "sign.title": "Sealtrail — 签署文件",
    "sign.heading": "签署文件",
    "sign.invalid.heading": "此链接无效",
    "sign.invalid.text": "链接可能已过期、已被使用或输入有误。请向发件人索取新的链接。",
    "sign.ask": "{sender} 邀请 {signer} 签署此文件。",
    "sign.deadline": "请在 {time} 前签署。",
    "sign.deadline.none": "无截止时间。",
    "sign.note.signed": "您已签署此文件。",
    "sign.note.declined": "您已拒签此文件。",
    "sign.note.turn": "尚未轮到您签署：需要前一位签署人先签。您现在可以先验证身份并阅读文件。",
    "sign.note.closed": "此文件已不能签署（{state}）。",
    "sign.state.sent": "已发送",
    "sign.state.partly_signed": "部分已签",
    "sign.state.completed": "已完成",
    "sign.state.declined": "已拒签",
    "sign.state.voided": "已作废",
    "sign.state.expired": "已过期",
    "sign.state.draft": "草稿",
    "sign.step.identity": "身份验证",
    "sign.step.document": "阅读",
    "sign.step.sign": "签署",
    "sign.step.done": "完成",
    "sign.identity.heading": "确认您的身份",
    "sign.identity.where": "我们会向 {address} 发送一次性验证码，请在下方输入。",
    "sign.identity.download": "如需下载已签署的文件，请先确认身份：我们会向 {address} 发送一次性验证码。",
    "sign.send": "发送验证码",
    "sign.code": "验证码",
    "sign.verify": "验证",
    "sign.sending": "正在发送……",
    "sign.sent": "验证码已发送至 {address}，{minutes} 分钟内有效。",
    "sign.resend": "{seconds} 秒后可重新获取验证码。",
    "sign.ratelimited": "获取验证码过于频繁，请 {seconds} 秒后再试。",
    "sign.code.empty": "请输入收到的验证码。",
    "sign.code.noaddress": "发件人未提供接收验证码的地址。请让发件人通过其系统办理签署，或索取新的链接。",
    "sign.code.wrong": "验证码不正确，还可尝试 {n} 次。",
    "sign.code.wrong.one": "验证码不正确，还可尝试 1 次。",
    "sign.locked": "错误次数过多，此链接已被锁定，请 {minutes} 分钟后再试。",
    "sign.verified": "身份已确认。",
    "sign.session": "会话已结束，请重新验证身份。",
    "sign.document.heading": "文件内容",
    "sign.document.pages": "共 {n} 页。",
    "sign.document.pages.one": "共 1 页。",
    "sign.document.fields": "高亮处为您的签署位置。",
    "sign.document.sha": "SHA-256：{sha}",
    "sign.page.alt": "第 {n} 页，共 {total} 页",
    "sign.field": "您在此处签署",
    "sign.zoom": "缩放",
    "sign.zoom.in": "放大",
    "sign.zoom.out": "缩小",
    "sign.signing.heading": "您的签名",
    "sign.method.drawn": "手写",
    "sign.method.typed": "输入姓名",
    "sign.method.seal": "印章",
    "sign.pad": "签名板",
    "sign.pad.hint": "请用手指、手写笔或鼠标在框内签名。",
    "sign.pad.undo": "撤销",
    "sign.pad.clear": "清除",
    "sign.pad.empty": "请先在框内写下您的签名。",
    "sign.typed.label": "签名显示的姓名",
    "sign.typed.style": "样式",
    "sign.typed.empty": "请先输入姓名。",
    "sign.seal.choose": "选择印章",
    "sign.seal.none": "贵单位没有可用于此文件的印章。",
    "sign.seal.empty": "请先选择印章。",
    "sign.intent": "我已阅读本文件并同意签署",
    "sign.intent.missing": "请先勾选“我已阅读本文件并同意签署”。",
    "sign.sign": "签署",
    "sign.signing": "正在签署……",
    "sign.conflict": "您现在不能签署：{detail}",
    "sign.refused": "签名被拒绝：{detail}",
    "sign.done.heading": "已签署",
    "sign.done.partly": "您已完成签署，正在等待其他签署人签署。",
    "sign.done.completed": "您已完成签署。所有签署人均已签署，签署全部完成。",
    "sign.done.signed": "您已签署此文件。",
    "sign.download": "下载",
    "sign.decline": "拒签",
    "sign.decline.heading": "拒绝签署",
    "sign.decline.text": "发件人将看到您的理由。您拒签后，任何人都不能再签署此文件。",
    "sign.decline.reason": "理由",
    "sign.decline.confirm": "确认拒签",
    "sign.decline.cancel": "取消",
    "sign.decline.empty": "请填写理由（最多 500 个字符）。",
    "sign.declined.heading": "您已拒签",
    "sign.declined.text": "已通知发件人。此文件不能再被签署。",
  },
};
Object.assign(STRINGS.en, SIGN_STRINGS.en);
Object.assign(STRINGS["zh-CN"], SIGN_STRINGS["zh-CN"]);

const KEY = "sealtrail.lang";
let current = "en";
// The IANA time zone times are shown in (the console sets its tenant's, /v1/console/whoami);
// null: UTC, written "… UTC" in the language's style (the portal, which has no tenant).
let zone = null;
const listeners = [];

export function lang() {
  return current;
}

/** The string ``key`` in the current language, with {name} placeholders filled from ``vars``. */
export function t(key, vars = {}) {
  const s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  const all = { zone: zone || "UTC", ...vars };
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in all ? String(all[name]) : m));
}

/** A translated event type, or the type itself for custom types. */
export function typeLabel(type) {
  const k = `type.${type}`;
  return STRINGS.en[k] ? t(k) : type;
}

export function applyI18n(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
  const title = document.querySelector("title[data-i18n-title]");
  if (title) document.title = t(title.dataset.i18nTitle);
}

export function setLang(code) {
  current = code in STRINGS ? code : "en";
  try {
    localStorage.setItem(KEY, current);
  } catch {
    /* storage may be disabled: the choice then lasts for this page only */
  }
  applyI18n();
  for (const fn of listeners) fn(current);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

/** Pick the remembered language (else the browser's), and wire the <select id="lang">. */
export function initI18n() {
  let saved = null;
  try {
    saved = localStorage.getItem(KEY);
  } catch {
    saved = null;
  }
  const browser = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
  current = saved && saved in STRINGS ? saved : browser;
  const select = document.getElementById("lang");
  if (select) {
    select.value = current;
    select.addEventListener("change", () => setLang(select.value));
  }
  applyI18n();
}

/** Show times in the IANA zone ``name`` from now on (null: UTC as before); relabels the page. */
export function setTimeZone(name) {
  zone = name || null;
  applyI18n();
}

function wallClock(ms, tz) {
  const f = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const p = {};
  for (const x of f.formatToParts(new Date(ms))) p[x.type] = x.value;
  return p;
}

/** The UTC offset of ``tz`` at the instant ``ms``, in minutes (east positive). */
export function zoneOffset(ms, tz) {
  const p = wallClock(ms, tz);
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
}

/** "2026-12-08 01:30:00 +08:00": the instant ``ms`` in ``tz``, to the second, with its offset. */
export function zonedTime(ms, tz) {
  const p = wallClock(ms, tz);
  const off = zoneOffset(ms, tz);
  const a = Math.abs(off);
  const hhmm = `${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${off < 0 ? "-" : "+"}${hhmm}`;
}

/** A wall time typed in ``tz`` ("2026-12-08T01:30[:05]", as <input type=datetime-local> gives)
 * → RFC 3339 UTC; null if it is not one. A time skipped by a daylight-saving change is read
 * with the offset before the change; a repeated one as its first occurrence. */
export function wallTimeToIso(local, tz) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  if (!tz) return new Date(wall).toISOString().replace(".000Z", "Z");
  // the zone's offsets a day either side: a wall time is t + offset(t) for one of them,
  // unless a change skipped it
  const day = 86_400_000;
  const offs = [zoneOffset(wall - day, tz), zoneOffset(wall + day, tz)];
  const fits = offs.map((o) => wall - o * 60000).filter((t) => t + zoneOffset(t, tz) * 60000 === wall);
  const best = fits.length ? Math.min(...fits) : wall - offs[0] * 60000;
  return new Date(best).toISOString().replace(".000Z", "Z");
}

export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (zone) return zonedTime(d.getTime(), zone);
  const f = new Intl.DateTimeFormat(current, {
    dateStyle: "medium",
    timeStyle: "medium",
    timeZone: "UTC",
  });
  return `${f.format(d)} UTC`;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatSeconds(s) {
  if (s === null || s === undefined) return "—";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
