//! A [`FileSink`] around another that digests a file part's bytes as they stream in, so an
//! attachment's digest (behind its `ETag`, CONTRACT §11) is known when it is stored, without
//! reading it back and without any hashing under the store lock. It wraps either sink: memory
//! ([`super::InMemory`]) and a storage backend's spool (`storage::Spool`) alike.

use super::FileSink;
use crate::error::ApiError;
use crate::validators::{Digest, Digester};

/// Digests what `S` receives: `read_file_field_into(.., &Hashing(&InMemory))`.
#[derive(Debug, Clone, Copy)]
pub struct Hashing<'s, S>(pub &'s S);

/// A finished part's data and the digest of its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Hashed<D> {
    /// What the wrapped sink made of the bytes.
    pub data: D,
    /// The digest of exactly those bytes.
    pub digest: Digest,
}

impl<S: FileSink> FileSink for Hashing<'_, S> {
    type Writer = (S::Writer, Digester);
    type Data = Hashed<S::Data>;

    fn create(&self, bound: Option<u64>) -> Result<Self::Writer, ApiError> {
        Ok((self.0.create(bound)?, Digester::new()))
    }

    fn write(&self, (writer, digester): &mut Self::Writer, chunk: &[u8]) -> Result<(), ApiError> {
        self.0.write(writer, chunk)?;
        digester.update(chunk);
        Ok(())
    }

    fn finish(&self, (writer, digester): Self::Writer) -> Result<Self::Data, ApiError> {
        Ok(Hashed {
            data: self.0.finish(writer)?,
            digest: digester.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::upload::{read_file_field_into, FileField, InMemory, UploadLimits};

    const LIMITS: UploadLimits = UploadLimits {
        max_file_bytes: 1 << 20,
    };

    /// Two `file` parts (the second wins, CONTRACT §9) and a text field between them.
    fn body(first: &[u8], second: &[u8]) -> Vec<u8> {
        let part = |name: &str, filename: Option<&str>, data: &[u8]| {
            let filename = filename
                .map(|f| format!("; filename=\"{f}\""))
                .unwrap_or_default();
            let head =
                format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n");
            [head.as_bytes(), data, b"\r\n"].concat()
        };
        [
            part("file", Some("one.bin"), first),
            part("note", None, b"not a file"),
            part("file", Some("two.bin"), second),
            b"--B--\r\n".to_vec(),
        ]
        .concat()
    }

    /// Reads `body` in pieces of `piece` bytes, as a slow client would send it.
    struct Trickle<'a> {
        rest: &'a [u8],
        piece: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let count = self.piece.min(buf.len()).min(self.rest.len());
            buf[..count].copy_from_slice(&self.rest[..count]);
            self.rest = &self.rest[count..];
            Ok(count)
        }
    }

    #[test]
    fn the_kept_file_comes_with_the_digest_of_its_bytes() {
        let second: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
        let body = body(b"superseded", &second);
        for piece in [1, 7, 4096, body.len()] {
            let reader = Trickle { rest: &body, piece };
            let field = read_file_field_into(
                reader,
                Some("multipart/form-data; boundary=B"),
                None,
                LIMITS,
                &Hashing(&InMemory),
            )
            .unwrap();
            let FileField::File(file) = field else {
                panic!("{field:?}")
            };
            assert_eq!(file.filename, "two.bin");
            assert_eq!(file.bytes.data, Bytes::from(second.clone()));
            assert_eq!(file.bytes.digest, Digest::of(&second), "pieces of {piece}");
        }
    }

    #[test]
    fn an_empty_file_has_the_empty_digest() {
        let body = body(b"x", b"");
        let field = read_file_field_into(
            &body[..],
            Some("multipart/form-data; boundary=B"),
            Some(body.len() as u64),
            LIMITS,
            &Hashing(&InMemory),
        );
        let Ok(FileField::File(file)) = field else {
            panic!("{field:?}")
        };
        assert_eq!(file.bytes.digest, Digest::of(b""));
    }
}
