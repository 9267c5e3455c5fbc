//! Real mail servers for the tests, each a private instance on loopback in a temp
//! folder: Debian's Postfix (relaying, and writing bounces itself) and Dovecot
//! (IMAP). `.ci/run` installs both; they run as root, as CI does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The user the test mailboxes belong to (Postfix's virtual delivery and
/// Dovecot's mail processes run as it).
const MAIL_UID: u32 = 65534;

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

/// A folder the daemons' own users can traverse.
fn open_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// An empty Maildir owned by the mail user.
pub fn maildir(root: &Path) {
    for sub in ["", "new", "cur", "tmp"] {
        let dir = root.join(sub);
        open_dir(&dir);
        chown(&dir, MAIL_UID);
    }
}

/// Waits until `dir` holds at least `n` files.
pub fn wait_for_files(dir: &Path, n: usize, limit: Duration) -> Vec<PathBuf> {
    let start = Instant::now();
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if files.len() >= n || start.elapsed() > limit {
            return files;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Postfix on `127.0.0.1:<port>`, relaying for loopback clients:
/// - `readers.test` is local, and accepts any recipient at SMTP time
///   (`local_recipient_maps` empty), so a reader who does not exist is bounced
///   after the message was accepted: Postfix writes the DSN itself;
/// - `inbox.test` and `bounces.test` are virtual Maildir domains: `reader@inbox.test`
///   receives mail in `mailbox("reader")`, and `bounces@bounces.test` (with
///   `recipient_delimiter = +`, so every VERP address) in `mailbox("bounces")`.
pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Postfix {
    pub fn start() -> Postfix {
        super::require_debian(&["postfix"], &["postfix"]);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        open_dir(root);
        for sub in ["conf", "queue"] {
            open_dir(&root.join(sub));
        }
        open_dir(&root.join("data"));
        std::os::unix::fs::chown(root.join("data"), Some(postfix_uid()), None).unwrap();
        open_dir(&root.join("vmail"));
        maildir(&root.join("vmail/bounces"));
        maildir(&root.join("vmail/reader"));
        let port = super::free_port();
        let r = root.display();
        std::fs::write(
            root.join("conf/main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.herald.test
mydomain = herald.test
myorigin = $myhostname
mydestination = readers.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
local_recipient_maps =
alias_maps =
alias_database =
recipient_delimiter = +
virtual_mailbox_domains = bounces.test, inbox.test
virtual_mailbox_base = {r}/vmail
virtual_mailbox_maps = texthash:{r}/conf/vmailbox
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
maillog_file_prefixes = {r}
maillog_file = {r}/postfix.log
smtputf8_enable = no
biff = no
delay_warning_time = 0
"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("conf/vmailbox"),
            "bounces@bounces.test bounces/\nreader@inbox.test reader/\n",
        )
        .unwrap();
        std::fs::write(
            root.join("conf/master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"
            ),
        )
        .unwrap();
        let postfix = Postfix { dir, port };
        let started = postfix.postfix("start");
        assert!(started.status.success(), "postfix start: {}", postfix.log());
        let ready = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                ready.elapsed() < Duration::from_secs(20),
                "postfix does not listen: {}",
                postfix.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        postfix
    }

    fn postfix(&self, action: &str) -> std::process::Output {
        Command::new("postfix")
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg(action)
            .output()
            .unwrap()
    }

    /// The Maildir of a virtual mailbox (`bounces` or `reader`).
    pub fn mailbox(&self, name: &str) -> PathBuf {
        self.dir.path().join("vmail").join(name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postfix.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.postfix("stop");
    }
}

fn postfix_uid() -> u32 {
    let out = Command::new("id").args(["-u", "postfix"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Dovecot serving IMAP on `127.0.0.1:<port>` (plain text: loopback only) for one
/// user, `bounces`, whose INBOX is the Maildir [`Dovecot::inbox`].
pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

pub const IMAP_USER: &str = "bounces";
pub const IMAP_PASSWORD: &str = "a-test-imap-password";

impl Dovecot {
    pub fn start() -> Dovecot {
        super::require_debian(&["dovecot"], &["dovecot-imapd"]);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        open_dir(root);
        for sub in ["run", "state"] {
            open_dir(&root.join(sub));
        }
        open_dir(&root.join("mail"));
        chown(&root.join("mail"), MAIL_UID);
        maildir(&root.join("mail").join(IMAP_USER));
        let port = super::free_port();
        let r = root.display();
        std::fs::write(
            root.join("users"),
            format!("{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n"),
        )
        .unwrap();
        std::fs::write(
            root.join("dovecot.conf"),
            format!(
                "protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{r}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {r}/users
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={r}/mail/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"
            ),
        )
        .unwrap();
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .status()
            .unwrap();
        let dovecot = Dovecot { dir, port };
        assert!(status.success(), "dovecot: {}", dovecot.log());
        let ready = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                ready.elapsed() < Duration::from_secs(20),
                "dovecot does not listen: {}",
                dovecot.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        dovecot
    }

    /// The user's INBOX, a Maildir: a message written into `new/` (owned by the
    /// mail user) is one the server has not seen yet.
    pub fn inbox(&self) -> PathBuf {
        self.dir.path().join("mail").join(IMAP_USER)
    }

    /// Delivers `text` into the INBOX as a new message.
    pub fn deliver(&self, name: &str, text: &str) {
        let path = self.inbox().join("new").join(name);
        std::fs::write(&path, text).unwrap();
        chown(&path, MAIL_UID);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("dovecot")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .arg("stop")
            .status();
    }
}
