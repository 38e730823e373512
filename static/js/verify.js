// Reads ?token= from the link in the verification e-mail and confirms it with the API.
const status = document.getElementById("status");
const token = new URLSearchParams(location.search).get("token");
// Drop the token from the address bar and history: it should not linger or be shared.
history.replaceState(null, "", location.pathname);

async function verify() {
  if (!token) {
    status.textContent = "链接中没有验证码。/ The link carries no token.";
    status.className = "err";
    return;
  }
  const response = await fetch("/api/v1/auth/verify", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": navigator.language || "zh-CN" },
    body: JSON.stringify({ token }),
  });
  if (response.ok) {
    status.textContent = "邮箱已验证，现在可以登录并加入案件。/ Your e-mail is verified; you can now log in and join cases.";
    status.className = "ok";
  } else {
    const problem = await response.json().catch(() => ({}));
    status.textContent = problem.detail || "验证失败。/ Verification failed.";
    status.className = "err";
  }
}

verify();
