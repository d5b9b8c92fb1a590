using Messenger.Accounts;

namespace Messenger.Tests.Accounts;

public class PasswordHasherTests
{
    [Fact]
    public void A_hash_verifies_its_password_only()
    {
        var hash = PasswordHasher.Hash("correct horse", 1000);
        Assert.StartsWith("pbkdf2-sha256$1000$", hash);
        Assert.DoesNotContain("correct horse", hash);
        Assert.True(PasswordHasher.Verify("correct horse", hash));
        Assert.False(PasswordHasher.Verify("correct hors", hash));
        Assert.False(PasswordHasher.Verify("Correct horse", hash));
    }

    [Fact]
    public void Each_hash_has_its_own_salt() =>
        Assert.NotEqual(PasswordHasher.Hash("same password", 1000), PasswordHasher.Hash("same password", 1000));

    [Theory]
    [InlineData("")]
    [InlineData("md5$1$abc$def")]
    [InlineData("pbkdf2-sha256$x$c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$0$c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$10$not base64$aGFzaA==")]
    public void A_malformed_stored_hash_never_verifies(string stored) => Assert.False(PasswordHasher.Verify("anything", stored));
}
