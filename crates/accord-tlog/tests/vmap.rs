//! The verifiable map of the index (docs/INDEX.md §3–§6), checked against a brute-force model: a root
//! computed by a separate recursive definition over the sorted pairs, lists compared with a plain scan of
//! the entries, and every proof checked to accept exactly the true answer.
use std::collections::BTreeMap;

use accord_tlog::vmap::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// The brute-force root: docs/INDEX.md §3 read literally, over a sorted slice of (key, list) at `depth`.
fn model_root(pairs: &[([u8; 32], Vec<u64>)], depth: usize) -> [u8; 32] {
    match pairs {
        [] => [0; 32],
        [(k, l)] => {
            let mut chain = [0u8; 32];
            for x in l {
                chain = Sha256::new().chain_update(chain).chain_update(x.to_be_bytes()).finalize().into();
            }
            Sha256::new().chain_update([0u8]).chain_update(k).chain_update(chain).finalize().into()
        }
        _ => {
            let split = pairs.iter().position(|(k, _)| k[depth / 8] & (0x80 >> (depth % 8)) != 0);
            let (l, r) = pairs.split_at(split.unwrap_or(pairs.len()));
            let (hl, hr) = (model_root(l, depth + 1), model_root(r, depth + 1));
            Sha256::new().chain_update([1u8]).chain_update(hl).chain_update(hr).finalize().into()
        }
    }
}

fn key(n: u64) -> [u8; 32] {
    Sha256::digest(n.to_be_bytes()).into()
}

/// `k` with bit `i` flipped: a key sharing the first `i` bits with `k`, to force deep paths.
fn flip(mut k: [u8; 32], i: usize) -> [u8; 32] {
    k[i / 8] ^= 0x80 >> (i % 8);
    k
}

/// Keys: random, plus near neighbours of earlier ones (sharing a prefix up to a random bit, up to 255).
fn keys_strategy() -> impl Strategy<Value = Vec<[u8; 32]>> {
    prop::collection::vec((any::<[u8; 32]>(), any::<bool>(), 0usize..256, any::<prop::sample::Index>()), 1..32)
        .prop_map(|specs| {
            let mut keys: Vec<[u8; 32]> = Vec::new();
            for (fresh, near, bit, pick) in specs {
                let k = if near && !keys.is_empty() { flip(keys[pick.index(keys.len())], bit) } else { fresh };
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            keys
        })
}

/// A ledger: keys, and for each entry the keys it files under (indices into `keys`); batch boundaries.
fn ledger_strategy() -> impl Strategy<Value = (Vec<[u8; 32]>, Vec<Vec<usize>>, Vec<usize>)> {
    keys_strategy().prop_flat_map(|keys| {
        let n = keys.len();
        (
            Just(keys),
            prop::collection::vec(prop::collection::vec(0..n, 0..4), 1..60),
            prop::collection::vec(1usize..12, 1..10),
        )
    })
}

fn wrong_lists(list: &[u64]) -> Vec<Vec<u64>> {
    let mut out = vec![list[1..].to_vec(), list[..list.len() - 1].to_vec()];
    let mut extended = list.to_vec();
    extended.push(list[list.len() - 1] + 1);
    out.push(extended);
    let mut earlier = vec![list[0].saturating_sub(1)];
    earlier.extend_from_slice(list);
    out.push(earlier);
    if list.len() >= 2 {
        let mut swapped = list.to_vec();
        swapped.swap(0, 1);
        out.push(swapped);
    }
    out.retain(|l| l.as_slice() != list);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Incremental batches give the from-scratch root and the brute-force root; every list equals a scan;
    /// every present key proves exactly its list, every absent key proves absence, proofs round-trip their
    /// encoding, and no proof verifies for another key.
    #[test]
    fn incremental_map_matches_brute_force_and_proves_exactly((keys, entries, batches) in ledger_strategy(),
                                                              absent in prop::collection::vec(any::<[u8; 32]>(), 4)) {
        let mut map = VerifiableMap::new();
        prop_assert_eq!(map.commit(), PLACEHOLDER);
        let mut scan: BTreeMap<[u8; 32], Vec<u64>> = BTreeMap::new();
        let mut next = 0usize;
        let mut b = 0usize;
        while next < entries.len() {
            let end = (next + batches[b % batches.len()]).min(entries.len());
            b += 1;
            for (i, e) in entries.iter().enumerate().take(end).skip(next) {
                let index = u64::try_from(i).unwrap();
                map.append_entry(index, e.iter().map(|k| keys[*k])).unwrap();
                for k in e {
                    let l = scan.entry(keys[*k]).or_default();
                    if l.last() != Some(&index) {
                        l.push(index);
                    }
                }
            }
            next = end;
            let root = map.commit();
            let pairs: Vec<([u8; 32], Vec<u64>)> = scan.iter().map(|(k, l)| (*k, l.clone())).collect();
            prop_assert_eq!(root, model_root(&pairs, 0), "incremental root = brute-force root");
            prop_assert_eq!(root, VerifiableMap::from_lists(pairs).unwrap().root(), "= rebuilt root");
        }
        let root = map.root();
        prop_assert_eq!(map.len(), scan.len());
        for (k, list) in &scan {
            prop_assert_eq!(map.get(k), Some(list.as_slice()), "list = scan");
            let proof = map.prove(k).unwrap();
            prop_assert_eq!(&MapProof::decode(&proof.encode()).unwrap(), &proof);
            prop_assert!(verify(&root, k, Some(list), &proof).is_ok());
            prop_assert!(verify(&root, k, None, &proof).is_err(), "presence proof does not prove absence");
            for wrong in wrong_lists(list) {
                prop_assert!(verify(&root, k, Some(&wrong), &proof).is_err(), "accepted {:?} for {:?}", wrong, list);
            }
            for (other, other_list) in &scan {
                if other != k {
                    prop_assert!(verify(&root, other, Some(list), &proof).is_err());
                    prop_assert!(verify(&root, other, Some(other_list), &proof).is_err());
                    prop_assert!(verify(&root, other, None, &proof).is_err());
                }
            }
            prop_assert!(verify(&flip(root, 7), k, Some(list), &proof).is_err(), "another root");
        }
        for k in keys.iter().chain(&absent).map(|k| flip(*k, 255)).chain(absent.iter().copied()) {
            if scan.contains_key(&k) {
                continue;
            }
            let proof = map.prove(&k).unwrap();
            prop_assert!(!matches!(proof.terminal, Terminal::Present));
            prop_assert_eq!(&MapProof::decode(&proof.encode()).unwrap(), &proof);
            prop_assert!(verify(&root, &k, None, &proof).is_ok(), "absence of {}", hex::encode(k));
            prop_assert!(verify(&root, &k, Some(&[5]), &proof).is_err());
            for other in scan.keys() {
                prop_assert!(verify(&root, other, None, &proof).is_err(), "absence proof of one key for another");
            }
        }
    }

    /// A proof with one bit flipped anywhere either does not decode or does not verify.
    #[test]
    fn a_tampered_proof_is_refused(keys in keys_strategy(), which in any::<prop::sample::Index>(),
                                   byte in any::<prop::sample::Index>(), bit in 0u8..8, absent in any::<bool>()) {
        let map = VerifiableMap::from_lists(keys.iter().enumerate().map(|(i, k)| (*k, vec![u64::try_from(i).unwrap()]))).unwrap();
        let k = keys[which.index(keys.len())];
        let (k, list) = if absent { (flip(k, 254), None) } else { (k, map.get(&k).map(<[u64]>::to_vec)) };
        if map.get(&k).is_some() && absent {
            return Ok(());
        }
        let mut bytes = map.prove(&k).unwrap().encode();
        prop_assert!(verify(&map.root(), &k, list.as_deref(), &MapProof::decode(&bytes).unwrap()).is_ok());
        let i = byte.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(p) = MapProof::decode(&bytes) {
            prop_assert!(verify(&map.root(), &k, list.as_deref(), &p).is_err());
        }
    }
}

#[test]
fn small_maps_have_the_roots_the_spec_gives() {
    assert_eq!(VerifiableMap::new().commit(), [0; 32]);
    let one = VerifiableMap::from_lists([(key(1), vec![0, 4])]).unwrap();
    assert_eq!(one.root(), leaf_hash(&key(1), &value_hash(&[0, 4])));
    // Two keys that differ first at bit 0: an internal node at the root over the two leaves.
    let a = [0u8; 32];
    let b = flip(a, 0);
    let two = VerifiableMap::from_lists([(b, vec![1]), (a, vec![2])]).unwrap();
    assert_eq!(two.root(), node_hash(&leaf_hash(&a, &value_hash(&[2])), &leaf_hash(&b, &value_hash(&[1]))));
    // Differing only at the last bit: 255 internal nodes above them, each with a placeholder sibling.
    let c = flip(a, 255);
    let deep = VerifiableMap::from_lists([(a, vec![1]), (c, vec![2])]).unwrap();
    let proof = deep.prove(&a).unwrap();
    assert_eq!(proof.siblings.len(), 256);
    assert_eq!(proof.encode().len(), 1 + 2 + 32 + 32, "255 placeholder siblings cost one bit each");
    verify(&deep.root(), &a, Some(&[1]), &proof).unwrap();
    // value_hash is the chain c_n, c_0 = 0^32, c_i = SHA-256(c_{i-1} || u64be(x_i)).
    let c1: [u8; 32] = Sha256::new().chain_update([0u8; 32]).chain_update(7u64.to_be_bytes()).finalize().into();
    assert_eq!(value_hash(&[7]), c1);
}

#[test]
fn appends_must_increase_and_a_refused_batch_changes_nothing() {
    let mut m = VerifiableMap::new();
    assert!(m.append_entry(1, [key(1)]).is_err(), "entry 0 comes first");
    m.append_entry(0, [key(1), key(2), key(1)]).unwrap();
    assert_eq!(m.get(&key(1)), Some(&[0][..]), "a key named twice in one entry is listed once");
    let root = m.commit();
    assert!(m.append_entry(0, [key(3), key(1)]).is_err(), "an entry appended twice");
    assert!(m.append_entry(2, [key(3)]).is_err(), "an entry skipped");
    assert!(m.get(&key(3)).is_none() && !m.is_dirty());
    assert_eq!(m.commit(), root);
    m.append_entry(1, [key(3)]).unwrap();
    assert!(m.prove(&key(3)).is_err(), "no proofs while appends are staged");
    assert_ne!(m.commit(), root);
    assert_eq!(m.next_index(), 2);
    assert_eq!(VerifiableMap::from_lists([(key(1), vec![2, 7]), (key(2), vec![3])]).unwrap().next_index(), 8);
    assert!(VerifiableMap::from_lists([(key(1), vec![2, 2])]).is_err());
    assert!(VerifiableMap::from_lists([(key(1), vec![])]).is_err());
    assert!(VerifiableMap::from_lists([(key(1), vec![1]), (key(1), vec![2])]).is_err());
}

#[test]
fn proof_bytes_are_canonical() {
    let m = VerifiableMap::from_lists((0..50).map(|i| (key(i), vec![i]))).unwrap();
    let bytes = m.prove(&key(3)).unwrap().encode();
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(MapProof::decode(&extra).is_err(), "trailing bytes");
    assert!(MapProof::decode(&bytes[..bytes.len() - 1]).is_err(), "cut short");
    let mut tag = bytes.clone();
    tag[0] = 3;
    assert!(MapProof::decode(&tag).is_err(), "unknown tag");
    // A sibling listed explicitly as the placeholder.
    let p = MapProof { siblings: vec![[0; 32]], terminal: Terminal::Empty };
    let mut explicit = vec![0u8, 0, 1, 0x80];
    explicit.extend_from_slice(&[0; 32]);
    assert!(MapProof::decode(&explicit).is_err());
    assert_eq!(p.encode(), vec![0u8, 0, 1, 0]);
    // A bitmap bit past the count.
    assert!(MapProof::decode(&[0u8, 0, 1, 0x40]).is_err());
    assert!(MapProof::decode(&[0u8, 1, 1]).is_err(), "257 siblings");
}
