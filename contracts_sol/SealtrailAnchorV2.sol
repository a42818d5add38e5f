// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Sealtrail checkpoint anchors, version 2: the log root and the map root
/// @author Sealtrail
/// @notice Records checkpoints (tree size, log root, map root) of Sealtrail's append-only Merkle
///         logs, so that anyone holding a checkpoint can show, with one eth_call or from the
///         event log, that the log had that root at that size, and that its signed note named
///         that map root, no later than the time of a block.
/// @dev Version 1 (SealtrailAnchor.sol) anchors (size, log root) only. Version 2 also stores and
///      emits the map root of the checkpoint's "sealtrail-map/v1" line (docs/FORMAT.md §5.1),
///      as is (32 bytes, not base64). A map root of zero means "no map line": the checkpoint
///      was sealed before the map. Once a log anchored a non-zero map root, every later anchor
///      of that log must name one too (a ledger never goes back to "before the map").
///      A log is named by its log id: the SHA-256 of the log's origin line, as bytes32.
contract SealtrailAnchorV2 {
    /// @notice What the contract keeps about one anchored root of one log (two storage slots).
    /// @dev treeSize is never 0 for an anchored root, so 0 means "not anchored".
    struct Anchor {
        /// @dev Number of entries of the log the root commits to.
        uint64 treeSize;
        /// @dev block.timestamp of the block that anchored the root (seconds since 1970).
        uint64 blockTime;
        /// @dev block.number of the block that anchored the root.
        uint64 blockNumber;
        /// @dev The map root the checkpoint's note names, or 0 if it names none.
        bytes32 mapRoot;
    }

    /// @notice What the contract keeps about one log (one storage slot).
    struct Log {
        /// @dev The tree size of the latest anchored checkpoint (0 if none yet).
        uint64 latestSize;
        /// @dev Whether a non-zero map root was anchored for the log.
        bool mapped;
    }

    /// @notice The version of this contract's interface and storage (1 is SealtrailAnchor).
    uint8 public constant VERSION = 2;

    /// @notice The account that authorises and revokes anchorers.
    address public owner;

    /// @notice The account ownership has been offered to, until it accepts (0 if none).
    address public pendingOwner;

    /// @notice Whether an account may anchor checkpoints of a log.
    mapping(bytes32 logId => mapping(address anchorer => bool)) public isAnchorer;

    /// @dev log id => its latest size and whether it has a map.
    mapping(bytes32 logId => Log) private _logs;

    /// @dev (log id, root) => what was anchored; read it with anchorOf.
    mapping(bytes32 logId => mapping(bytes32 root => Anchor)) private _anchors;

    /// @notice A checkpoint of a log was anchored.
    /// @param logId SHA-256 of the log's origin line.
    /// @param treeSize Size of the checkpoint (number of log entries).
    /// @param root Root hash of the log's first treeSize entries (RFC 9162).
    /// @param mapRoot The map root the checkpoint's note names, or 0 if it names none.
    /// @param anchorer The authorised account that sent the transaction.
    event Anchored(
        bytes32 indexed logId, uint64 indexed treeSize, bytes32 root, bytes32 mapRoot, address anchorer
    );

    /// @notice The owner authorised or revoked an anchorer of a log.
    /// @param logId The log.
    /// @param anchorer The account.
    /// @param authorised True if it may now anchor, false if it was revoked.
    event AnchorerChanged(bytes32 indexed logId, address indexed anchorer, bool authorised);

    /// @notice The owner offered ownership to another account.
    /// @param owner The current owner.
    /// @param pendingOwner The account that may accept ownership.
    event OwnershipOffered(address indexed owner, address indexed pendingOwner);

    /// @notice Ownership moved (from address 0 when the contract was deployed).
    /// @param previousOwner The former owner.
    /// @param newOwner The new owner.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice Only the owner may do this.
    /// @param caller The account that tried.
    error NotOwner(address caller);

    /// @notice Only the account ownership was offered to may accept it.
    /// @param caller The account that tried.
    error NotPendingOwner(address caller);

    /// @notice The account is not authorised to anchor checkpoints of this log.
    /// @param logId The log.
    /// @param caller The account that tried.
    error NotAnchorer(bytes32 logId, address caller);

    /// @notice Tree sizes of a log must strictly increase.
    /// @param logId The log.
    /// @param treeSize The size given.
    /// @param latestSize The size of the log's latest anchor, which treeSize must exceed.
    error TreeSizeNotIncreasing(bytes32 logId, uint64 treeSize, uint64 latestSize);

    /// @notice This root is already anchored for this log.
    /// @param logId The log.
    /// @param root The root given.
    /// @param treeSize The size it was anchored with.
    error RootAlreadyAnchored(bytes32 logId, bytes32 root, uint64 treeSize);

    /// @notice The log anchored a map root before: a later checkpoint must name one too.
    /// @param logId The log.
    /// @param treeSize The size given with a zero map root.
    error MapRootRequired(bytes32 logId, uint64 treeSize);

    /// @notice The zero address is not a valid account here.
    error ZeroAddress();

    /// @dev Reverts with NotOwner unless the caller is the owner.
    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @notice Deploys the contract, owned by the deploying account, with no anchorers.
    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /// @notice Anchors a checkpoint (treeSize, root, mapRoot) of log logId at this block's time.
    /// @dev Requires: the caller is an anchorer of the log, treeSize exceeds the log's latest
    ///      anchored size, root was never anchored for the log, and mapRoot is non-zero if the
    ///      log anchored a non-zero map root before. Checks in that order.
    /// @param logId SHA-256 of the log's origin line.
    /// @param treeSize Size of the checkpoint (number of log entries), at least 1.
    /// @param root Root hash of the log's first treeSize entries (RFC 9162).
    /// @param mapRoot The map root of the note's sealtrail-map/v1 line, or 0 if it has none.
    function anchor(bytes32 logId, uint64 treeSize, bytes32 root, bytes32 mapRoot) external {
        if (!isAnchorer[logId][msg.sender]) revert NotAnchorer(logId, msg.sender);
        Log memory log_ = _logs[logId];
        if (treeSize <= log_.latestSize) {
            revert TreeSizeNotIncreasing(logId, treeSize, log_.latestSize);
        }
        uint64 anchoredSize = _anchors[logId][root].treeSize;
        if (anchoredSize != 0) revert RootAlreadyAnchored(logId, root, anchoredSize);
        bool hasMap = mapRoot != bytes32(0);
        if (log_.mapped && !hasMap) revert MapRootRequired(logId, treeSize);
        _logs[logId] = Log(treeSize, log_.mapped || hasMap);
        // block.timestamp and block.number fit in 64 bits for the next 584 billion years.
        _anchors[logId][root] =
            Anchor(treeSize, uint64(block.timestamp), uint64(block.number), mapRoot);
        emit Anchored(logId, treeSize, root, mapRoot, msg.sender);
    }

    /// @notice Looks up an anchored root of a log.
    /// @param logId SHA-256 of the log's origin line.
    /// @param root The root hash.
    /// @return treeSize The size it was anchored with, or 0 if it was never anchored.
    /// @return blockTime The timestamp of the block that anchored it (0 if never anchored).
    /// @return blockNumber The number of the block that anchored it (0 if never anchored).
    /// @return mapRoot The map root anchored with it (0: none, or never anchored).
    function anchorOf(bytes32 logId, bytes32 root)
        external
        view
        returns (uint64 treeSize, uint64 blockTime, uint64 blockNumber, bytes32 mapRoot)
    {
        Anchor storage a = _anchors[logId][root];
        return (a.treeSize, a.blockTime, a.blockNumber, a.mapRoot);
    }

    /// @notice The tree size of the latest checkpoint anchored for a log (0 if none yet).
    /// @param logId The log.
    /// @return The size.
    function latestSize(bytes32 logId) external view returns (uint64) {
        return _logs[logId].latestSize;
    }

    /// @notice Whether a non-zero map root was anchored for a log (later anchors then need one).
    /// @param logId The log.
    /// @return True once the log anchored a map root.
    function mapped(bytes32 logId) external view returns (bool) {
        return _logs[logId].mapped;
    }

    /// @notice Allows an account to anchor checkpoints of a log. Only the owner may call this.
    /// @param logId The log.
    /// @param anchorer The account, not the zero address.
    function authorise(bytes32 logId, address anchorer) external onlyOwner {
        if (anchorer == address(0)) revert ZeroAddress();
        isAnchorer[logId][anchorer] = true;
        emit AnchorerChanged(logId, anchorer, true);
    }

    /// @notice Stops an account from anchoring checkpoints of a log. Only the owner may call this.
    /// @dev Anchors it made before stay valid.
    /// @param logId The log.
    /// @param anchorer The account.
    function revoke(bytes32 logId, address anchorer) external onlyOwner {
        isAnchorer[logId][anchorer] = false;
        emit AnchorerChanged(logId, anchorer, false);
    }

    /// @notice Offers ownership to another account, which must call acceptOwnership to take it.
    /// @dev Offering to the zero address withdraws a pending offer. Only the owner may call this.
    /// @param newOwner The account ownership is offered to.
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipOffered(msg.sender, newOwner);
    }

    /// @notice Takes the ownership offered to the caller.
    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner(msg.sender);
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }
}
