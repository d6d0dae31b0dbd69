//! The Merkle tree of RFC 9162 §2.1 (as RFC 6962): `leaf = SHA-256(0x00 || bytes)`,
//! `node = SHA-256(0x01 || left || right)`, the tree over `n` leaves split at the largest power
//! of two below `n`. Tree heads, inclusion proofs (§2.1.3) and consistency proofs (§2.1.4), and
//! their verification exactly as the RFC states the algorithms.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a proof cannot be made or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// An index or size outside the tree.
    #[error("{0}")]
    OutOfRange(String),
    /// The proof does not lead to the tree head it should.
    #[error("the proof does not hold: {0}")]
    Invalid(&'static str),
}

/// A hash in lower-case hex (as the ledger's tables store it).
pub fn to_hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash from 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

/// The hash of a leaf holding `bytes`.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(bytes);
    hasher.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The tree head (MTH) over `leaves` (leaf hashes); the empty tree's is SHA-256 of nothing.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        _ => {
            // Bottom-up: pair neighbours level by level; an odd last node moves up unchanged,
            // which is the same tree as splitting at the largest power of two.
            let mut level: Vec<Hash> = leaves.to_vec();
            while level.len() > 1 {
                let mut next = Vec::with_capacity(level.len().div_ceil(2));
                for pair in level.chunks(2) {
                    match pair {
                        [left, right] => next.push(node_hash(left, right)),
                        [single] => next.push(*single),
                        _ => {}
                    }
                }
                level = next;
            }
            level[0]
        }
    }
}

/// The right edge of a growing tree (a compact range): the heads of its perfect subtrees, largest
/// first — at most one per bit of the size, so O(log n) memory. Pushing a leaf is amortised O(1)
/// hashes; the tree head is O(log n). Lets the ledger cut checkpoints as it grows without
/// reading every leaf again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (height, head) of each perfect subtree, left to right; heights strictly decreasing.
    peaks: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The frontier of the tree over `leaves`.
    pub fn of(leaves: &[Hash]) -> Self {
        let mut frontier = Self::default();
        for leaf in leaves {
            frontier.push(*leaf);
        }
        frontier
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.size += 1;
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.peaks.last() {
            if height != node.0 {
                break;
            }
            self.peaks.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree head (MTH): the peaks folded from the right, as RFC 9162 splits the tree.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(&(_, mut head)) = peaks.next() else {
            return Sha256::digest([]).into();
        };
        for (_, left) in peaks {
            head = node_hash(left, &head);
        }
        head
    }
}

/// The audit path of leaf `index` in the tree of the first `size` of `leaves` (PATH(m, D[n])).
pub fn inclusion_proof(
    leaves: &[Hash],
    index: usize,
    size: usize,
) -> Result<Vec<Hash>, ProofError> {
    if size > leaves.len() || index >= size {
        return Err(ProofError::OutOfRange(format!(
            "leaf {index} is not in a tree of size {size} (the log holds {})",
            leaves.len()
        )));
    }
    let mut path = Vec::new();
    path_of(index, &leaves[..size], &mut path);
    Ok(path)
}

fn path_of(m: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_of(m, &leaves[..k], path);
        path.push(root(&leaves[k..]));
    } else {
        path_of(m - k, &leaves[k..], path);
        path.push(root(&leaves[..k]));
    }
}

/// Whether `path` proves leaf `leaf` at `index` in the tree of `size` with head `head`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    head: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!(
            "leaf {index} is not in a tree of size {size}"
        )));
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return Err(ProofError::Invalid(
                "the path is longer than the tree is deep",
            ));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Invalid(
            "the path is shorter than the tree is deep",
        ));
    }
    if &r != head {
        return Err(ProofError::Invalid("the path leads to another tree head"));
    }
    Ok(())
}

/// The consistency proof between the trees of the first `old` and the first `new` of `leaves`
/// (PROOF(m, D[n])). Empty when `old` is 0 or equals `new`.
pub fn consistency_proof(leaves: &[Hash], old: usize, new: usize) -> Result<Vec<Hash>, ProofError> {
    if new > leaves.len() || old > new {
        return Err(ProofError::OutOfRange(format!(
            "no consistency proof from size {old} to size {new} (the log holds {})",
            leaves.len()
        )));
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(old, &leaves[..new], true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Whether `proof` shows the tree of size `old` with head `old_head` is a prefix of the tree of
/// size `new` with head `new_head` (RFC 9162 §2.1.4.2; size 0 is a prefix of every tree).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_head: &Hash,
    new_head: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange(format!(
            "a tree of size {old} cannot be a prefix of one of size {new}"
        )));
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::Invalid("a proof from the empty tree is empty"))
        };
    }
    if old == new {
        return match (proof.is_empty(), old_head == new_head) {
            (true, true) => Ok(()),
            (false, _) => Err(ProofError::Invalid("a proof between equal sizes is empty")),
            (true, false) => Err(ProofError::Invalid(
                "two tree heads of the same size differ",
            )),
        };
    }
    if proof.is_empty() {
        return Err(ProofError::Invalid("the proof is empty"));
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_head);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::Invalid(
                "the proof is longer than the tree is deep",
            ));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Invalid(
            "the proof is shorter than the tree is deep",
        ));
    }
    if &fr != old_head {
        return Err(ProofError::Invalid(
            "the proof leads to another old tree head",
        ));
    }
    if &sr != new_head {
        return Err(ProofError::Invalid(
            "the proof leads to another new tree head",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
