//! TLS for a test cluster: a throwaway CA and a server certificate made with `openssl`, and
//! PostgreSQL's `ssl` turned on by a reload.

use std::path::PathBuf;
use std::process::Command;

use super::cluster::{run, Cluster};

/// The roots for a cluster with TLS on: `ca` signed its certificate, `other_ca` did not.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
}

impl Cluster {
    /// Turns TLS on (by reload): a test CA signs a server certificate for `IP:127.0.0.1`
    /// only; a second, unrelated CA is made for the wrong-root case. Needs `openssl`.
    pub fn enable_tls(&self) -> TlsFiles {
        let tls = self.dir.join("tls");
        std::fs::create_dir_all(&tls).expect("create the TLS directory");
        let openssl = |args: &[&str]| {
            run(
                Command::new("openssl").args(args).current_dir(&tls),
                "openssl",
            )
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, pem, subject) = (
                format!("{ca}.key"),
                format!("{ca}.pem"),
                format!("/CN=taskd test {ca}"),
            );
            openssl(
                &[
                    &["req", "-x509"][..],
                    &ec,
                    &[
                        "-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject,
                    ],
                ]
                .concat(),
            );
        }
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write the extensions");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        if self.as_postgres {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&tls),
                "chown the TLS files",
            );
        }
        run(
            Command::new("chmod").arg("600").arg(tls.join("server.key")),
            "chmod the server key",
        );
        let (cert, key) = (tls.join("server.pem"), tls.join("server.key"));
        self.psql(
            "postgres",
            &format!("ALTER SYSTEM SET ssl_cert_file = '{}'", cert.display()),
        );
        self.psql(
            "postgres",
            &format!("ALTER SYSTEM SET ssl_key_file = '{}'", key.display()),
        );
        self.psql("postgres", "ALTER SYSTEM SET ssl = on");
        self.psql("postgres", "SELECT pg_reload_conf()");
        TlsFiles {
            ca: tls.join("ca.pem"),
            other_ca: tls.join("other-ca.pem"),
        }
    }
}
