//! Signed media: each volume's manifest signed with ed25519 over its exact bytes, the
//! 64-byte signature in `rescue/manifest.sig` beside it. The manifest covers everything
//! else a restore reads (the sets and hash lists, volume 1's mountlist and catalog) by
//! BLAKE3, so a verified signature covers the whole volume.
//!
//! Keys are PEM as OpenSSL writes them: the signing key from
//! `openssl genpkey -algorithm ed25519 -out KEY.pem` (PKCS#8), the public key from
//! `openssl pkey -in KEY.pem -pubout -out KEY.pub.pem`. The signature is the raw one
//! OpenSSL makes and checks: `openssl pkeyutl -verify -pubin -inkey KEY.pub.pem -rawin
//! -in manifest.json -sigfile manifest.sig`.

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes of an ed25519 signature, the whole of `rescue/manifest.sig`.
pub const SIGNATURE_LEN: usize = 64;

/// A key file far larger than a PEM key is refused rather than read.
const MAX_KEY_FILE: u64 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", .path.display())]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot write the public key as PEM: {0}")]
    Encode(String),
}

/// Why a manifest's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is {0} bytes, not the {SIGNATURE_LEN} of an ed25519 signature")]
    Length(usize),
    #[error("the signature does not verify with the trusted key: the manifest was changed, or signed with another key")]
    Mismatch,
}

/// Reads a key file, bounded, and parses it with `parse`.
fn read_key<T>(path: &Path, parse: fn(&str) -> Result<T, String>) -> Result<T, KeyError> {
    let text = read_key_text(path)?;
    parse(&text).map_err(|problem| KeyError::Invalid {
        path: path.to_path_buf(),
        problem,
    })
}

/// Reads a key file, bounded, as text.
fn read_key_text(path: &Path) -> Result<String, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            problem: format!("more than {MAX_KEY_FILE} bytes: not a PEM key"),
        });
    }
    Ok(text)
}

/// The ed25519 key that signs manifests (`mkrescue create --sign KEY`). Its secret part is
/// never printed: `Debug` shows the public key only.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningKey")
            .field(&self.trusted_key())
            .finish()
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM ed25519 private key ("BEGIN PRIVATE KEY").
    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        read_key(path, SigningKey::from_pem)
    }

    fn from_pem(text: &str) -> Result<SigningKey, String> {
        if text.contains("PUBLIC KEY-----") {
            return Err(
                "this is a public key: --sign takes the private key (made with \
                        openssl genpkey -algorithm ed25519 -out KEY.pem)"
                    .into(),
            );
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(text)
            .map(SigningKey)
            .map_err(|e| {
                format!(
                    "not an ed25519 private key in PEM ({e}): make one with openssl genpkey \
                     -algorithm ed25519 -out KEY.pem"
                )
            })
    }

    /// The signature of `message` (a manifest's exact bytes).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }

    /// The public key that verifies this key's signatures.
    pub fn trusted_key(&self) -> TrustedKey {
        TrustedKey(self.0.verifying_key())
    }
}

/// A public key whose signatures are trusted (`--trusted-key PUB`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey(ed25519_dalek::VerifyingKey);

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({})", self.fingerprint())
    }
}

impl TrustedKey {
    /// Reads an ed25519 public key in PEM ("BEGIN PUBLIC KEY", as `openssl pkey -pubout`
    /// writes it).
    pub fn read(path: &Path) -> Result<TrustedKey, KeyError> {
        read_key(path, TrustedKey::from_pem)
    }

    fn from_pem(text: &str) -> Result<TrustedKey, String> {
        if text.contains("PRIVATE KEY-----") {
            // Said without the key's content: a secret must not end up in a log.
            return Err(
                "this is a private key: give the public key instead (openssl pkey \
                        -in KEY.pem -pubout -out KEY.pub.pem), and keep the private key \
                        off the rescue system"
                    .into(),
            );
        }
        ed25519_dalek::VerifyingKey::from_public_key_pem(text)
            .map(TrustedKey)
            .map_err(|e| {
                format!(
                    "not an ed25519 public key in PEM ({e}): make it with openssl pkey -in \
                     KEY.pem -pubout -out KEY.pub.pem"
                )
            })
    }

    /// Checks `signature` (the bytes of `rescue/manifest.sig`) over `message` (the
    /// manifest's exact bytes). Strict: no malleable or small-order forms.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let signature = Signature::from_slice(signature)
            .map_err(|_| SignatureError::Length(signature.len()))?;
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }

    /// The key as PEM ("BEGIN PUBLIC KEY"), as `openssl pkey -pubout` writes it.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))
    }

    /// The public key in hex (64 digits), as `openssl pkey -pubin -text` shows its bytes.
    pub fn fingerprint(&self) -> String {
        crate::catalog::to_hex(self.0.as_bytes())
    }
}

/// Which media a reader accepts.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// Any media, signed or not (no `--trusted-key`): signatures are not looked at.
    #[default]
    AnyMedia,
    /// Only volumes whose manifest carries a signature by this key.
    SignedBy(TrustedKey),
    /// A trusted key was named but cannot be used (the reason): every volume is refused,
    /// rather than any accepted.
    Unusable(String),
}

impl Trust {
    /// `--trusted-key PATH` when given, else any media.
    pub fn from_key_file(path: Option<&Path>) -> Result<Trust, KeyError> {
        Ok(match path {
            Some(p) => Trust::SignedBy(TrustedKey::read(p)?),
            None => Trust::AnyMedia,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032's test 1 key, as `openssl genpkey -algorithm ed25519` writes a key.
    const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
        -----END PRIVATE KEY-----\n";
    const PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
        -----END PUBLIC KEY-----\n";

    #[test]
    fn a_signature_verifies_with_the_public_key_only_over_the_same_bytes() {
        let key = SigningKey::from_pem(PRIVATE_PEM).unwrap();
        let public = TrustedKey::from_pem(PUBLIC_PEM).unwrap();
        assert_eq!(key.trusted_key(), public);
        assert_eq!(public.to_pem().unwrap(), PUBLIC_PEM);
        assert_eq!(
            public.fingerprint(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign(b"{\"version\": 2}");
        // RFC 8032 test 1: the empty message.
        assert_eq!(
            crate::catalog::to_hex(&key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert_eq!(public.verify(b"{\"version\": 2}", &sig), Ok(()));
        assert_eq!(
            public.verify(b"{\"version\": 3}", &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            public.verify(b"{\"version\": 2}", &sig[..63]),
            Err(SignatureError::Length(63))
        );
    }

    #[test]
    fn keys_of_the_wrong_kind_are_refused_without_showing_them() {
        let e = TrustedKey::from_pem(PRIVATE_PEM).unwrap_err();
        assert!(e.contains("private key") && e.contains("-pubout"), "{e}");
        assert!(!e.contains("MC4CAQ"), "{e}");
        let e = SigningKey::from_pem(PUBLIC_PEM).unwrap_err();
        assert!(e.contains("public key"), "{e}");
        let e = TrustedKey::from_pem("hello").unwrap_err();
        assert!(e.contains("not an ed25519 public key"), "{e}");
        let key = SigningKey::from_pem(PRIVATE_PEM).unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains("d75a98") && !shown.contains("9d61b1"),
            "{shown}"
        );
    }

    #[test]
    fn key_files_are_read_bounded_and_named_in_errors() {
        let d = tempfile::tempdir().unwrap();
        let e = TrustedKey::read(&d.path().join("missing.pem")).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let big = d.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; (MAX_KEY_FILE + 10) as usize]).unwrap();
        let e = TrustedKey::read(&big).unwrap_err();
        assert!(e.to_string().contains("not a PEM key"), "{e}");
        let public = d.path().join("pub.pem");
        std::fs::write(&public, PUBLIC_PEM).unwrap();
        assert!(matches!(
            Trust::from_key_file(Some(&public)).unwrap(),
            Trust::SignedBy(_)
        ));
        assert!(matches!(
            Trust::from_key_file(None).unwrap(),
            Trust::AnyMedia
        ));
    }
}
