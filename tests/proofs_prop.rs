//! Property tests: every proof the tree code builds verifies, and every tampered proof fails; roots agree
//! with a naive recursive RFC 6962 MTH (the oracle).
use accord::merkle::{self, MemoryHashes};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => merkle::leaf_hash(&leaves[0]),
        n => {
            let k = n.next_power_of_two() / 2;
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

fn tree(leaves: &[Vec<u8>]) -> MemoryHashes {
    let mut t = MemoryHashes::default();
    for l in leaves {
        t.append(l);
    }
    t
}

fn vecs(p: &[accord::merkle::Hash]) -> Vec<Vec<u8>> {
    p.iter().map(|h| h.0.to_vec()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn roots_match_the_oracle(leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..70)) {
        let t = tree(&leaves);
        prop_assert_eq!(t.leaves(), leaves.len() as u64);
        for m in 0..=leaves.len() {
            prop_assert_eq!(merkle::tree_hash(m as u64, &t).unwrap(), mth(&leaves[..m]));
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_tampering_fails(
        n in 1u64..300, i_seed in any::<u64>(), m_seed in any::<u64>(), bit in 0usize..256, which in any::<usize>()
    ) {
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| i.to_be_bytes().to_vec()).collect();
        let t = tree(&leaves);
        let m = 1 + m_seed % n;
        let i = i_seed % m;
        let root = merkle::tree_hash(m, &t).unwrap();
        let lh = merkle::leaf_hash(&leaves[i as usize]);
        let proof = vecs(&merkle::prove_record(m, i, &t).unwrap());
        prop_assert!(merkle::verify_inclusion(i, m, &lh, &proof, &root).is_ok());
        // Tampered hash in the proof.
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = which % bad.len();
            bad[k][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(merkle::verify_inclusion(i, m, &lh, &bad, &root).is_err());
            // Truncated proof.
            prop_assert!(merkle::verify_inclusion(i, m, &lh, &proof[..proof.len() - 1], &root).is_err());
        }
        // Extended proof.
        let mut longer = proof.clone();
        longer.push(vec![0u8; 32]);
        prop_assert!(merkle::verify_inclusion(i, m, &lh, &longer, &root).is_err());
        // Wrong leaf, wrong index, wrong root.
        let mut bad_leaf = lh;
        bad_leaf[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(merkle::verify_inclusion(i, m, &bad_leaf, &proof, &root).is_err());
        if m > 1 {
            prop_assert!(merkle::verify_inclusion((i + 1) % m, m, &lh, &proof, &root).is_err());
        }
        let mut bad_root = root;
        bad_root[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(merkle::verify_inclusion(i, m, &lh, &proof, &bad_root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_tampering_fails(
        n in 2u64..300, a in any::<u64>(), b in any::<u64>(), bit in 0usize..256, which in any::<usize>()
    ) {
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8, (i >> 8) as u8, 7]).collect();
        let t = tree(&leaves);
        let (x, y) = (1 + a % n, 1 + b % n);
        let (m1, m2) = (x.min(y), x.max(y));
        let r1 = merkle::tree_hash(m1, &t).unwrap();
        let r2 = merkle::tree_hash(m2, &t).unwrap();
        let proof = if m1 == m2 { vec![] } else { vecs(&merkle::prove_tree(m2, m1, &t).unwrap()) };
        prop_assert!(merkle::verify_consistency(m1, m2, &r1, &r2, &proof).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = which % bad.len();
            bad[k][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(merkle::verify_consistency(m1, m2, &r1, &r2, &bad).is_err());
            prop_assert!(merkle::verify_consistency(m1, m2, &r1, &r2, &proof[..proof.len() - 1]).is_err());
        }
        let mut bad_r1 = r1;
        bad_r1[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(merkle::verify_consistency(m1, m2, &bad_r1, &r2, &proof).is_err());
        let mut bad_r2 = r2;
        bad_r2[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(merkle::verify_consistency(m1, m2, &r1, &bad_r2, &proof).is_err());
        if m1 < m2 {
            prop_assert!(merkle::verify_consistency(m1, m2, &r1, &r2, &[]).is_err());
        }
    }

    #[test]
    fn proof_bundles_round_trip(index in any::<u64>(), n in 0usize..40, extra in prop::option::of(prop::collection::vec(any::<u8>(), 0..200))) {
        let proof: Vec<[u8; 32]> = (0..n).map(|i| [i as u8; 32]).collect();
        let b = merkle::ProofBundle { extra, index, proof, checkpoint: "o\n1\nAAAA\n\n— o AAAA\n".into() };
        prop_assert_eq!(merkle::ProofBundle::parse(&b.to_text()).unwrap(), b);
    }

    #[test]
    fn bundle_parser_never_panics(s in ".{0,400}") {
        let _ = merkle::ProofBundle::parse(&s);
        let _ = accord::crypto::parse_verifier_key(&s);
        let _ = accord::crypto::parse_private_key(&s);
    }
}
