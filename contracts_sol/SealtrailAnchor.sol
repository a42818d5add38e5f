// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Sealtrail checkpoint anchors
/// @author Sealtrail
/// @notice Records checkpoints (tree size, root hash) of Sealtrail's append-only Merkle logs, so
///         that anyone holding a checkpoint can show, with one eth_call or from the event log,
///         that the log had that root at that size no later than the time of a block.
/// @dev A log is named by its log id: the SHA-256 of the log's origin line (docs/FORMAT.md §5),
///      as bytes32. Each anchored root costs one storage slot (size, block time, block number)
///      keyed by (log id, root), plus the log's latest size. Sizes of a log strictly increase, so
///      a log's anchors are totally ordered and one root is never anchored twice.
contract SealtrailAnchor {
    /// @notice What the contract keeps about one anchored root of one log (one storage slot).
    /// @dev treeSize is never 0 for an anchored root, so 0 means "not anchored".
    struct Anchor {
        /// @dev Number of entries of the log the root commits to.
        uint64 treeSize;
        /// @dev block.timestamp of the block that anchored the root (seconds since 1970).
        uint64 blockTime;
        /// @dev block.number of the block that anchored the root.
        uint64 blockNumber;
    }

    /// @notice The account that authorises and revokes anchorers.
    address public owner;

    /// @notice The account ownership has been offered to, until it accepts (0 if none).
    address public pendingOwner;

    /// @notice Whether an account may anchor checkpoints of a log.
    mapping(bytes32 logId => mapping(address anchorer => bool)) public isAnchorer;

    /// @notice The tree size of the latest checkpoint anchored for a log (0 if none yet).
    mapping(bytes32 logId => uint64) public latestSize;

    /// @dev (log id, root) => what was anchored; read it with anchorOf.
    mapping(bytes32 logId => mapping(bytes32 root => Anchor)) private _anchors;

    /// @notice A checkpoint of a log was anchored.
    /// @param logId SHA-256 of the log's origin line.
    /// @param treeSize Size of the checkpoint (number of log entries).
    /// @param root Root hash of the log's first treeSize entries (RFC 9162).
    /// @param anchorer The authorised account that sent the transaction.
    event Anchored(bytes32 indexed logId, uint64 indexed treeSize, bytes32 root, address anchorer);

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

    /// @notice Anchors a checkpoint (treeSize, root) of log logId at this block's time.
    /// @dev Requires: the caller is an anchorer of the log, treeSize exceeds the log's latest
    ///      anchored size, and root was never anchored for the log. Checks in that order.
    /// @param logId SHA-256 of the log's origin line.
    /// @param treeSize Size of the checkpoint (number of log entries), at least 1.
    /// @param root Root hash of the log's first treeSize entries (RFC 9162).
    function anchor(bytes32 logId, uint64 treeSize, bytes32 root) external {
        if (!isAnchorer[logId][msg.sender]) revert NotAnchorer(logId, msg.sender);
        uint64 latest = latestSize[logId];
        if (treeSize <= latest) revert TreeSizeNotIncreasing(logId, treeSize, latest);
        uint64 anchoredSize = _anchors[logId][root].treeSize;
        if (anchoredSize != 0) revert RootAlreadyAnchored(logId, root, anchoredSize);
        latestSize[logId] = treeSize;
        // block.timestamp and block.number fit in 64 bits for the next 584 billion years.
        _anchors[logId][root] = Anchor(treeSize, uint64(block.timestamp), uint64(block.number));
        emit Anchored(logId, treeSize, root, msg.sender);
    }

    /// @notice Looks up an anchored root of a log.
    /// @param logId SHA-256 of the log's origin line.
    /// @param root The root hash.
    /// @return treeSize The size it was anchored with, or 0 if it was never anchored.
    /// @return blockTime The timestamp of the block that anchored it (0 if never anchored).
    /// @return blockNumber The number of the block that anchored it (0 if never anchored).
    function anchorOf(bytes32 logId, bytes32 root)
        external
        view
        returns (uint64 treeSize, uint64 blockTime, uint64 blockNumber)
    {
        Anchor storage a = _anchors[logId][root];
        return (a.treeSize, a.blockTime, a.blockNumber);
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
