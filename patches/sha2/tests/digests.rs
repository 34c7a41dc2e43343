//! The stand-in's digests: the standard's examples, and agreement with
//! `sha2` 0.11 over every length and split of the input around the block
//! boundaries.

use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn standard_examples() {
    let cases: [(&[u8], &str); 4] = [
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        ),
    ];
    for (input, digest) in cases {
        assert_eq!(hex(&Sha256::digest(input)), digest, "{input:?}");
    }
    let mut million = Sha256::new();
    for _ in 0..1000 {
        million.update([b'a'; 1000]);
    }
    assert_eq!(
        hex(&million.finalize()),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

#[test]
fn agrees_with_sha2_0_11_on_every_length_and_split() {
    use sha2_blocks::Digest as _;
    let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + i / 7) as u8).collect();
    for len in 0..data.len() {
        let input = &data[..len];
        let expected = sha2_blocks::Sha256::digest(input);
        for split in [0, 1, len / 3, len / 2, len.saturating_sub(1), len] {
            let split = split.min(len);
            let mut hasher = Sha256::new();
            hasher.update(&input[..split]);
            hasher.update(&input[split..]);
            assert_eq!(
                hasher.finalize().as_slice(),
                expected.as_slice(),
                "{len} split at {split}"
            );
        }
    }
}

#[test]
fn reset_and_clone_behave() {
    let mut hasher = Sha256::new();
    hasher.update(b"some bytes first");
    let copy = hasher.clone();
    Digest::reset(&mut hasher);
    hasher.update(b"abc");
    assert_eq!(
        hex(&hasher.finalize()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(copy.finalize(), Sha256::digest(b"some bytes first"));
}
