// A real OpenID provider (the `oidc-provider` package) for the console's browser test: one confidential client,
// the development login and consent pages, and a `groups` claim in the ID token. Started by
// tests/api/browser.rs with PORT and REDIRECT (the console's callback URL); prints "ready" when listening.
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: "kyc-console",
      client_secret: "console-test-secret-0123456789abcdef",
      redirect_uris: [process.env.REDIRECT],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  scopes: ["openid", "profile", "groups"],
  claims: { openid: ["sub"], profile: ["name"], groups: ["groups"] },
  // The groups go into the ID token itself, where the console reads them.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, name: "Olivia Oidc", groups: ["kyc-reviewers", "kyc-dpo", "staff"] }),
  }),
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});
provider.listen(port, () => console.log("ready"));
