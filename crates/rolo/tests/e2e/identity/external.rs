//! Tokens from external OpenID Connect issuers: accepted by key, refused for every defect, and
//! keys fetched again (at most once per interval) for unknown key ids.

use super::*;

/// An identity provider served by the test: discovery at `/.well-known/openid-configuration`
/// and a JWKS that can change, counting how often it is fetched.
struct Idp {
    issuer: String,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    rsa_key: EncodingKey,
    rsa_public_pem: String,
    ec_key: EncodingKey,
    ec_jwk: Value,
}

impl Idp {
    async fn start() -> Idp {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        use rsa::traits::PublicKeyParts;

        let pem = include_str!("../../fixtures/notify-key.pem");
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let public = private.to_public_key();
        let rsa_jwk = json!({
            "kty": "RSA", "use": "sig", "kid": RSA_KID, "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = &pair.public_key().as_ref()[1..];
        let ec_jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": EC_KID,
            "x": URL_SAFE_NO_PAD.encode(&point[..32]), "y": URL_SAFE_NO_PAD.encode(&point[32..]),
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let jwks = Arc::new(Mutex::new(json!({ "keys": [rsa_jwk] })));
        let fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/keys") });
        let (served, counter) = (jwks.clone(), fetches.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let d = discovery.clone();
                    async move { axum::Json(d) }
                }),
            )
            .route(
                "/keys",
                axum::routing::get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let keys = served.lock().unwrap().clone();
                    async move { axum::Json(keys) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Idp {
            issuer,
            jwks,
            fetches,
            rsa_key: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            rsa_public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
            ec_key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            ec_jwk,
        }
    }

    fn claims(&self, extra: Value) -> Value {
        let t = now();
        let mut c = json!({ "iss": self.issuer, "aud": AUDIENCE, "iat": t, "nbf": t, "exp": t + 600 });
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    }

    fn sign_rsa(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(RSA_KID.into());
        jsonwebtoken::encode(&h, claims, &self.rsa_key).unwrap()
    }

    fn sign_ec(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(EC_KID.into());
        jsonwebtoken::encode(&h, claims, &self.ec_key).unwrap()
    }
}

async fn server_trusting(idp: &Idp, refetch_after: Duration) -> TestServer {
    let issuer = OidcIssuer { issuer: idp.issuer.clone(), audience: AUDIENCE.into(), jwks_url: None };
    TestServer::start_configured(Backend::Sqlite, move |state| {
        state.oidc = ExternalIssuers::new(vec![issuer]);
        state.oidc.refetch_after = refetch_after;
    })
    .await
}

/// An external issuer's tokens map to directory users by oid, sub, upn or preferred_username;
/// `roles` make an app-only caller; unknown users are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_issuer_tokens() {
    let idp = Idp::start().await;
    let s = server_trusting(&idp, Duration::from_secs(30)).await;
    let ada = s.user("ada@contoso.test").await;
    let stranger = "11111111-2222-4333-8444-555555555555";

    let by_upn =
        idp.sign_rsa(&idp.claims(json!({"oid": stranger, "upn": "Ada@contoso.test", "scp": "Contacts.ReadWrite"})));
    let id = s.create_contact(&by_upn, json!({"givenName": "Grace"})).await;
    let by_oid = idp.sign_rsa(&idp.claims(json!({"oid": ada.id, "scp": "Contacts.Read"})));
    assert_eq!(s.ids_at("/me/contacts", &by_oid).await, vec![id.clone()]);
    // Contacts.Read cannot write: the scopes come from the token.
    s.post("/me/contacts", &by_oid, json!({"givenName": "No"})).await.assert_error(403, "ErrorAccessDenied");
    let by_sub = idp.sign_rsa(&idp.claims(json!({"sub": ada.id, "scope": "Contacts.Read"})));
    assert_eq!(s.ids_at("/me/contacts", &by_sub).await, vec![id.clone()]);
    let by_username = idp.sign_rsa(
        &idp.claims(json!({"sub": "auth0|xyz", "preferred_username": "ada@contoso.test", "scp": "Contacts.Read"})),
    );
    assert_eq!(s.ids_at("/me/contacts", &by_username).await, vec![id]);
    let unknown =
        idp.sign_rsa(&idp.claims(json!({"oid": stranger, "upn": "eve@contoso.test", "scp": "Contacts.Read"})));
    assert_refused(&s, &unknown, "a user not in the directory", "not in this directory").await;

    let app_only = idp.sign_rsa(&idp.claims(json!({"oid": stranger, "roles": ["Contacts.Read"], "azp": "client-1"})));
    let r = s.get("/me/contacts", &app_only).await;
    r.assert_error(400, "BadRequest");
    assert_eq!(r.body["error"]["message"], ME_ONLY_DELEGATED);
    // Rolo's own tokens still work next to the external issuer's.
    let own = s.token(&ada, "Contacts.Read");
    assert_eq!(s.get("/me/contacts", &own).await.status, 200);
    // Verified once: the keys were fetched once for all of this.
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
}

/// External tokens wrong in one way each are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_external_tokens() {
    let idp = Idp::start().await;
    let s = server_trusting(&idp, Duration::from_secs(30)).await;
    let ada = s.user("ada@contoso.test").await;
    let t = now();
    let base = json!({"oid": ada.id, "scp": "Contacts.Read"});
    let good = idp.claims(base.clone());
    let with = |patch: Value| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        c
    };
    assert_eq!(s.get("/me/contacts", &idp.sign_rsa(&good)).await.status, 200);

    assert_refused(&s, &idp.sign_rsa(&with(json!({"exp": t - 3600, "nbf": t - 7200}))), "expired", "expired").await;
    assert_refused(
        &s,
        &idp.sign_rsa(&with(json!({"nbf": t + 3600, "exp": t + 7200}))),
        "not yet valid",
        "not yet valid",
    )
    .await;
    assert_refused(
        &s,
        &idp.sign_rsa(&with(json!({"aud": "api://someone-else"}))),
        "wrong audience",
        "Invalid audience",
    )
    .await;
    assert_refused(&s, &idp.sign_rsa(&with(json!({"iss": "https://idp.invalid"}))), "wrong issuer", "Invalid issuer")
        .await;
    assert_refused(
        &s,
        &with_bad_signature(&idp.sign_rsa(&with(json!({"exp": t + 601})))),
        "bad signature",
        "Signature validation failed",
    )
    .await;
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": RSA_KID})), b64(&good));
    assert_refused(&s, &none, "alg none", "not well formed").await;
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(RSA_KID.into());
    let hs = jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(idp.rsa_public_pem.as_bytes())).unwrap();
    assert_refused(&s, &hs, "HS256 keyed with the RSA public key", "algorithm").await;
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("unknown-kid".into());
    assert_refused(&s, &jsonwebtoken::encode(&h, &good, &idp.rsa_key).unwrap(), "unknown kid", "kid").await;
}

/// A token naming a new key id makes Rolo fetch the JWKS again, at most once per interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_keys_are_refetched_for_new_key_ids() {
    let idp = Idp::start().await;
    let s = server_trusting(&idp, Duration::from_secs(30)).await;
    // The interval passes on the server's clock, moved forward by the test.
    let interval_passes = || s.state.oidc.clock.advance(Duration::from_secs(31));
    let ada = s.user("ada@contoso.test").await;
    let rsa_token = idp.sign_rsa(&idp.claims(json!({"oid": ada.id, "scp": "Contacts.Read"})));
    assert_eq!(s.get("/me/contacts", &rsa_token).await.status, 200);
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);

    // The issuer rotates in an ES256 key; within the interval Rolo does not fetch again.
    idp.jwks.lock().unwrap()["keys"].as_array_mut().unwrap().push(idp.ec_jwk.clone());
    let ec_token = idp.sign_ec(&idp.claims(json!({"oid": ada.id, "scp": "Contacts.Read", "exp": now() + 900})));
    for _ in 0..3 {
        assert_refused(&s, &ec_token, "a key id seen before the interval passed", "kid").await;
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
    interval_passes();
    assert_eq!(s.get("/me/contacts", &ec_token).await.status, 200);
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
    // Both keys are known now; an unknown one triggers at most one fetch per interval.
    assert_eq!(s.get("/me/contacts", &rsa_token).await.status, 200);
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("never-published".into());
    let stray =
        jsonwebtoken::encode(&h, &idp.claims(json!({"oid": ada.id, "scp": "Contacts.Read"})), &idp.rsa_key).unwrap();
    interval_passes();
    for _ in 0..5 {
        assert_refused(&s, &stray, "a never-published key id", "kid").await;
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 3);
}
