//! `trustpub idp serve|mint`: the local test identity provider, for trying
//! the exchange by hand. Both subcommands read the same key file, so the
//! tokens `mint` prints verify against the JWKS `serve` publishes.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::idp::{
    GithubJob, SigningKey, TestIdp, TestIdpServer, entra_app_token_claims, github_actions_claims,
    rebase_issuer, sample_claims,
};

const DEFAULT_KEY_FILE: &str = "trustpub-idp-key.pem";

#[derive(Debug, clap::Args)]
pub struct IdpArgs {
    #[command(subcommand)]
    pub command: IdpCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum IdpCommand {
    /// Serve /.well-known/openid-configuration and the JWKS (/keys) until Ctrl-C.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// The IdP's private key (PEM); created, readable only by you, if missing.
        #[arg(long, default_value = DEFAULT_KEY_FILE)]
        key: PathBuf,
    },
    /// Print a signed token shaped like the chosen IdP's.
    Mint(MintArgs),
    /// Print the JWKS of the key (for `trustpub eval --jwks`).
    Jwks {
        #[arg(long, default_value = DEFAULT_KEY_FILE)]
        key: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// The IdP's private key (PEM); created, readable only by you, if missing.
    #[arg(long, default_value = DEFAULT_KEY_FILE)]
    pub key: PathBuf,
    #[arg(long, value_enum, default_value_t = TokenKind::Entra)]
    pub kind: TokenKind,
    /// Where the issuer lives; for Entra ID the `iss` is `<base>/<tid>/v2.0`,
    /// for the sample kinds the sample's issuer path on `<base>`.
    #[arg(long)]
    pub issuer_base: Option<String>,
    /// Tenant id (Entra ID).
    #[arg(long)]
    pub tid: Option<String>,
    /// Object id of the service principal (Entra ID); also the `sub`.
    #[arg(long)]
    pub oid: Option<String>,
    /// GitHub repository `owner/name` (GitHub Actions).
    #[arg(long)]
    pub repository: Option<String>,
    /// Workflow file under .github/workflows/ (GitHub Actions), e.g. release.yml.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Deployment environment of the job (GitHub Actions).
    #[arg(long)]
    pub environment: Option<String>,
    /// Numeric ids `OWNER_ID:REPOSITORY_ID` (GitHub Actions; default 1000:2000).
    #[arg(long, default_value = "1000:2000")]
    pub ids: String,
    /// Default: api://AzureADTokenExchange for Entra ID, https://www.nuget.org for GitHub,
    /// the sample's `aud` for the sample kinds.
    #[arg(long)]
    pub audience: Option<String>,
    /// Seconds from now until `exp`.
    #[arg(long, default_value_t = 3600)]
    pub lifetime: u64,
    /// Sets claim KEY, applied last: VALUE is taken as JSON when it parses
    /// (`--claim exp=0`, `--claim 'aud=["a","b"]'`), else as a string.
    /// An empty VALUE (`--claim scp=`) removes the claim. Repeatable.
    #[arg(long = "claim", value_name = "KEY=VALUE")]
    pub claims: Vec<String>,
}

/// Token shapes `mint` can produce; each is one arm in [`base_claims`]. The
/// kinds after `github` are the evaluators' sample claim sets
/// (`policies/<kind>/sample-claims.json`), adjusted with `--claim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenKind {
    /// An Entra ID v2.0 app-only token of a service principal (the `entra-id` evaluator).
    #[value(alias = "entra-id")]
    Entra,
    /// A GitHub Actions job's token (the `github-actions` evaluator; needs
    /// --repository OWNER/NAME and --workflow).
    #[value(alias = "github-actions")]
    Github,
    /// A GitLab CI/CD job's ID token (the `gitlab` evaluator).
    Gitlab,
    /// A Forgejo Actions job's token, Codeberg's (the `forgejo-actions` evaluator).
    #[value(alias = "forgejo")]
    ForgejoActions,
    /// A token of an operator-configured issuer (the `generic-oidc` evaluator).
    GenericOidc,
    /// A Bitbucket Pipelines step's token (the `bitbucket-pipelines` evaluator).
    BitbucketPipelines,
    /// A CircleCI job's token (the `circleci` evaluator).
    Circleci,
    /// A Buildkite job's token (the `buildkite` evaluator).
    Buildkite,
    /// A Google service account's ID token (the `google-cloud` evaluator).
    GoogleCloud,
}

impl TokenKind {
    /// The evaluator whose sample claims this kind mints, if it is a sample kind.
    pub fn sample(self) -> Option<&'static str> {
        match self {
            TokenKind::Entra | TokenKind::Github => None,
            TokenKind::Gitlab => Some("gitlab"),
            TokenKind::ForgejoActions => Some("forgejo-actions"),
            TokenKind::GenericOidc => Some("generic-oidc"),
            TokenKind::BitbucketPipelines => Some("bitbucket-pipelines"),
            TokenKind::Circleci => Some("circleci"),
            TokenKind::Buildkite => Some("buildkite"),
            TokenKind::GoogleCloud => Some("google-cloud"),
        }
    }
}

pub async fn run(args: IdpArgs) -> Result<()> {
    match args.command {
        IdpCommand::Serve { listen, key } => serve(listen, &key).await,
        IdpCommand::Mint(args) => {
            let key = load_or_create_key(&args.key)?;
            let token = TestIdp::new(vec![key]).mint(&mint_claims(&args)?)?;
            println!("{token}");
            Ok(())
        }
        IdpCommand::Jwks { key } => {
            let key = load_or_create_key(&key)?;
            println!("{}", TestIdp::new(vec![key]).jwks());
            Ok(())
        }
    }
}

async fn serve(listen: SocketAddr, key_path: &Path) -> Result<()> {
    let key = load_or_create_key(key_path)?;
    let kid = key.kid().to_string();
    let server = TestIdpServer::start(TestIdp::new(vec![key]), listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("test IdP listening on {}", server.base_url());
    println!("  discovery: {}", server.discovery_url());
    println!("  jwks:      {}", server.jwks_url());
    println!("  key:       {} (kid {kid})", key_path.display());
    println!("Press Ctrl-C to stop.");
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    server.stop().await;
    Ok(())
}

fn mint_claims(args: &MintArgs) -> Result<Value> {
    let now = crate::clock::unix_now();
    let mut claims = base_claims(args, now)?;
    let object = claims
        .as_object_mut()
        .context("the base claims are not a JSON object")?;
    for claim in &args.claims {
        let Some((name, value)) = claim.split_once('=') else {
            bail!("--claim takes KEY=VALUE, got {claim:?}");
        };
        if value.is_empty() {
            object.remove(name);
        } else {
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
            object.insert(name.to_string(), value);
        }
    }
    Ok(claims)
}

fn base_claims(args: &MintArgs, now: u64) -> Result<Value> {
    if let Some(name) = args.kind.sample() {
        let token_id = random_token_id()?;
        let mut claims = sample_claims(name, now, args.lifetime, &token_id)
            .with_context(|| format!("the {name} sample claims are not a JSON object"))?;
        if let Some(audience) = &args.audience {
            claims["aud"] = Value::from(audience.as_str());
        }
        if let Some(base) = &args.issuer_base {
            let issuer = claims["iss"].as_str().unwrap_or_default();
            claims["iss"] = Value::from(rebase_issuer(issuer, base));
        }
        return Ok(claims);
    }
    match args.kind {
        TokenKind::Entra => {
            let (Some(tid), Some(oid)) = (&args.tid, &args.oid) else {
                bail!("an Entra ID token needs --tid and --oid");
            };
            let audience = args
                .audience
                .as_deref()
                .unwrap_or("api://AzureADTokenExchange");
            let mut claims = entra_app_token_claims(tid, oid, audience, now, &random_token_id()?);
            claims["exp"] = Value::from(now.saturating_add(args.lifetime));
            if let Some(base) = &args.issuer_base {
                claims["iss"] = Value::from(format!("{}/{tid}/v2.0", base.trim_end_matches('/')));
            }
            Ok(claims)
        }
        _ => {
            let (Some(repository), Some(workflow)) = (&args.repository, &args.workflow) else {
                bail!("a GitHub Actions token needs --repository OWNER/NAME and --workflow FILE");
            };
            let Some((owner, name)) = repository.split_once('/') else {
                bail!("--repository takes OWNER/NAME, got {repository:?}");
            };
            let ids = args
                .ids
                .split_once(':')
                .and_then(|(o, r)| Some((o.parse().ok()?, r.parse().ok()?)));
            let Some((owner_id, repository_id)) = ids else {
                bail!("--ids takes OWNER_ID:REPOSITORY_ID, got {:?}", args.ids);
            };
            let job = GithubJob {
                owner: owner.into(),
                repository: name.into(),
                owner_id,
                repository_id,
                workflow: workflow.clone(),
                environment: args.environment.clone(),
            };
            let audience = args.audience.as_deref().unwrap_or("https://www.nuget.org");
            let mut claims = github_actions_claims(&job, audience, now, &random_token_id()?);
            claims["exp"] = Value::from(now.saturating_add(args.lifetime));
            if let Some(base) = &args.issuer_base {
                claims["iss"] = Value::from(base.trim_end_matches('/'));
            }
            Ok(claims)
        }
    }
}

/// 16 random bytes, base64url: the shape of Entra ID's `uti`.
fn random_token_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Reads the key file, or creates it with a fresh RS256 key. The `kid` is
/// derived from the key, so the file alone fixes the JWKS.
fn load_or_create_key(path: &Path) -> Result<SigningKey> {
    match std::fs::read_to_string(path) {
        Ok(pem) => SigningKey::rs256_from_pem(&pem, None)
            .with_context(|| format!("cannot use the key in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::rs256_with_derived_kid()?;
            write_private(path, &key.to_pem()?)
                .with_context(|| format!("cannot create the key file {}", path.display()))?;
            eprintln!(
                "created the test IdP key {} (kid {})",
                path.display(),
                key.kid()
            );
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Creates `path` readable by its owner only, never replacing a file.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        idp: IdpArgs,
    }

    fn mint_args(extra: &[&str]) -> MintArgs {
        let mut argv = vec!["t", "mint", "--tid", "t-1", "--oid", "o-1"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("parse").idp.command {
            IdpCommand::Mint(args) => args,
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn entra_claims_with_overrides() {
        let args = mint_args(&[
            "--lifetime",
            "60",
            "--claim",
            "ver=1.0",
            "--claim",
            "azpacr=1",
            "--claim",
            r#"aud=["a","b"]"#,
            "--claim",
            "idtyp=",
            "--issuer-base",
            "http://127.0.0.1:8081/",
        ]);
        let claims = mint_claims(&args).expect("claims");
        assert_eq!(claims["iss"], "http://127.0.0.1:8081/t-1/v2.0");
        assert_eq!(claims["sub"], "o-1");
        assert_eq!(claims["ver"], 1.0, "JSON when it parses");
        assert_eq!(claims["azpacr"], 1);
        assert_eq!(claims["aud"], serde_json::json!(["a", "b"]));
        assert!(claims.get("idtyp").is_none(), "an empty value removes");
        let lifetime = claims["exp"].as_u64().zip(claims["iat"].as_u64());
        assert_eq!(lifetime.map(|(exp, iat)| exp - iat), Some(60));
    }

    #[test]
    fn claim_value_that_is_not_json_is_a_string() {
        let claims = mint_claims(&mint_args(&["--claim", "xms_ftd=plain text"])).expect("claims");
        assert_eq!(claims["xms_ftd"], "plain text");
        assert_eq!(claims["iss"], "https://login.microsoftonline.com/t-1/v2.0");
    }

    #[test]
    fn entra_needs_tid_and_oid() {
        let Ok(Cli {
            idp: IdpArgs {
                command: IdpCommand::Mint(args),
            },
        }) = Cli::try_parse_from(["t", "mint", "--tid", "t-1"])
        else {
            panic!("parse");
        };
        assert!(mint_claims(&args).is_err());
    }

    #[test]
    fn sample_kinds_take_audience_issuer_base_and_claims() {
        let argv = [
            "t",
            "mint",
            "--kind",
            "forgejo",
            "--audience",
            "https://registry.example",
            "--issuer-base",
            "http://127.0.0.1:8081",
            "--claim",
            "event_name=workflow_dispatch",
            "--lifetime",
            "60",
        ];
        let Ok(Cli {
            idp: IdpArgs {
                command: IdpCommand::Mint(args),
            },
        }) = Cli::try_parse_from(argv)
        else {
            panic!("parse");
        };
        let claims = mint_claims(&args).expect("claims");
        assert_eq!(claims["iss"], "http://127.0.0.1:8081/api/actions");
        assert_eq!(claims["aud"], "https://registry.example");
        assert_eq!(claims["event_name"], "workflow_dispatch");
        assert_eq!(claims["repository"], "contoso/app");
        assert_ne!(
            claims["jti"], "5b0e3f0a-7c1d-4e2b-9a8f-1d2c3b4a5e6f",
            "a fresh jti"
        );
        let lifetime = claims["exp"].as_u64().zip(claims["iat"].as_u64());
        assert_eq!(lifetime.map(|(exp, iat)| exp - iat), Some(60));
        for kind in [
            "gitlab",
            "generic-oidc",
            "bitbucket-pipelines",
            "circleci",
            "buildkite",
            "google-cloud",
        ] {
            let Ok(Cli {
                idp:
                    IdpArgs {
                        command: IdpCommand::Mint(args),
                    },
            }) = Cli::try_parse_from(["t", "mint", "--kind", kind])
            else {
                panic!("parse {kind}");
            };
            assert!(mint_claims(&args).expect(kind)["sub"].is_string(), "{kind}");
        }
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("idp.pem");
        let created = load_or_create_key(&path).expect("create");
        let loaded = load_or_create_key(&path).expect("load");
        assert_eq!(created.kid(), loaded.kid());
        assert_eq!(created.kid().len(), 16);
        assert_eq!(created.public_jwk(), loaded.public_jwk());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
