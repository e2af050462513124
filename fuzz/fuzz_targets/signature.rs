//! The thinking-signature envelope (`proxy_core::translate::signature`): `decode` of any text
//! never panics, and whatever it accepts re-encodes to a signature that decodes to the same
//! envelope; `encode` → `decode` round-trips any model, account, blob and part lengths, with a
//! `ccp1.` prefix and URL-safe characters only; `split_parts` undoes the part join.
//!
//! Input: used three ways at once — as a signature text, as the JSON inside an envelope
//! (`ccp1.` + base64url of the bytes), and as `arbitrary` fields for an envelope to encode.

#![no_main]

use arbitrary::Unstructured;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use proxy_core::translate::signature::{PART_SEPARATOR, decode, encode, split_parts};

fn round_trip_decoded(sig: &str) {
    if let Some(env) = decode(sig) {
        assert_eq!(env.v, 1, "decoded a version other than 1");
        let again = encode(&env.m, env.a.as_deref(), &env.e, &env.p);
        let back = decode(&again).expect("a re-encoded envelope decodes");
        assert_eq!(back, env, "re-encoded envelope differs");
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. The bytes as a signature.
    let text = String::from_utf8_lossy(data);
    round_trip_decoded(&text);
    round_trip_decoded(&format!("ccp1.{text}"));

    // 2. The bytes as the envelope's JSON.
    let mut sig = String::from("ccp1.");
    URL_SAFE_NO_PAD.encode_string(data, &mut sig);
    round_trip_decoded(&sig);

    // 3. The bytes as fields to encode.
    let mut u = Unstructured::new(data);
    let (Ok(model), Ok(account), Ok(blob), Ok(parts)) = (
        u.arbitrary::<String>(),
        u.arbitrary::<Option<String>>(),
        u.arbitrary::<String>(),
        u.arbitrary::<Vec<String>>(),
    ) else {
        return;
    };
    let lens: Vec<usize> = parts.iter().map(String::len).collect();
    let sig = encode(&model, account.as_deref(), &blob, &lens);
    assert!(sig.starts_with("ccp1."), "no prefix: {sig}");
    assert!(
        sig["ccp1.".len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "not base64url: {sig}"
    );
    let env = decode(&sig).expect("an encoded envelope decodes");
    assert_eq!(env.v, 1);
    assert_eq!(env.m, model);
    assert_eq!(env.a, account);
    assert_eq!(env.e, blob);
    assert_eq!(env.p, lens);
    // Any cut of the signature (short of the whole) is not a whole envelope.
    if let Ok(cut) = u.arbitrary::<usize>() {
        let cut = cut % sig.len();
        if let Some(e) = decode(&sig[..cut]) {
            assert_eq!(e, env, "a clipped signature decoded to something else");
        }
    }
    let joined = parts.join(PART_SEPARATOR);
    let split = split_parts(&joined, &lens).expect("joined parts split back");
    assert_eq!(split, parts.iter().map(String::as_str).collect::<Vec<_>>(), "split_parts");
});
