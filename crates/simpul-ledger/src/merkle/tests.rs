use super::*;

/// The leaves of the RFC 6962 test vectors (certificate-transparency's `merkle_tree_test`).
fn vector_leaves() -> Vec<Hash> {
    let data: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    data.iter().map(|d| leaf_hash(d)).collect()
}

fn hex(hash: &Hash) -> String {
    let text = to_hex(hash);
    assert_eq!(from_hex(&text), Some(*hash));
    text
}

#[test]
fn tree_heads_match_the_rfc_6962_test_vectors() {
    // The roots of the first n leaves, n = 0..=8, as published with certificate-transparency's
    // reference implementation (and recomputed from RFC 9162 §2.1.1's definition in Python's
    // hashlib).
    let expected = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let leaves = vector_leaves();
    for (n, root_hex) in expected.iter().enumerate() {
        assert_eq!(hex(&root(&leaves[..n])), *root_hex, "size {n}");
    }
}

/// 40 distinct leaves: every shape of tree up to a few levels past 32.
fn many_leaves() -> Vec<Hash> {
    (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

#[test]
fn every_inclusion_proof_verifies_and_a_wrong_leaf_index_or_head_does_not() {
    let leaves = many_leaves();
    for size in 1..=leaves.len() {
        let head = root(&leaves[..size]);
        for index in 0..size {
            let path = inclusion_proof(&leaves, index, size).expect("proof");
            let (i, n) = (index as u64, size as u64);
            assert_eq!(verify_inclusion(&leaves[index], i, n, &path, &head), Ok(()));
            let other = leaves[(index + 1) % leaves.len()];
            assert!(
                verify_inclusion(&other, i, n, &path, &head).is_err(),
                "{index}/{size}"
            );
            if size > 1 {
                let moved = (index + 1) % size;
                assert!(
                    verify_inclusion(&leaves[index], moved as u64, n, &path, &head).is_err(),
                    "{index} claimed at {moved} of {size}"
                );
            }
            let wrong_head = root(&leaves[..size - 1]);
            assert!(verify_inclusion(&leaves[index], i, n, &path, &wrong_head).is_err());
        }
    }
}

#[test]
fn every_consistency_proof_verifies_and_a_rewritten_history_does_not() {
    let leaves = many_leaves();
    let mut rewritten = leaves.clone();
    rewritten[5] = leaf_hash(b"rewritten");
    for new in 1..=leaves.len() {
        let new_head = root(&leaves[..new]);
        for old in 0..=new {
            let old_head = root(&leaves[..old]);
            let proof = consistency_proof(&leaves, old, new).expect("proof");
            let (m, n) = (old as u64, new as u64);
            assert_eq!(
                verify_consistency(m, n, &old_head, &new_head, &proof),
                Ok(()),
                "{old} -> {new}"
            );
            // A log that rewrote leaf 5 after the old head covered it cannot prove its new head
            // extends the old one.
            if old > 5 {
                let forged_head = root(&rewritten[..new]);
                let forged = consistency_proof(&rewritten, old, new).expect("proof");
                assert!(
                    verify_consistency(m, n, &old_head, &forged_head, &forged).is_err(),
                    "rewritten {old} -> {new}"
                );
            }
        }
    }
}

#[test]
fn proofs_outside_the_tree_are_refused() {
    let leaves = many_leaves();
    assert!(inclusion_proof(&leaves, 3, 3).is_err());
    assert!(inclusion_proof(&leaves, 0, 41).is_err());
    assert!(consistency_proof(&leaves, 5, 4).is_err());
    let head = root(&leaves[..4]);
    assert!(verify_inclusion(&leaves[0], 4, 4, &[], &head).is_err());
    assert!(verify_consistency(5, 4, &head, &head, &[]).is_err());
}

#[test]
fn the_frontier_gives_the_same_head_as_the_whole_tree_at_every_size() {
    let leaves = many_leaves();
    let mut frontier = Frontier::default();
    assert_eq!(frontier.root(), root(&[]));
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.push(*leaf);
        assert_eq!(frontier.size(), i as u64 + 1);
        assert_eq!(frontier.root(), root(&leaves[..=i]), "size {}", i + 1);
        // At most one peak per bit of the size.
        assert!(frontier.peaks.len() <= (i + 1).count_ones() as usize);
    }
    assert_eq!(Frontier::of(&leaves), frontier);
    let vectors = vector_leaves();
    assert_eq!(
        hex(&Frontier::of(&vectors).root()),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
}
