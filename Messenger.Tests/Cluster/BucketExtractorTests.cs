using Messenger.Chat;
using Messenger.Cluster;

namespace Messenger.Tests.Cluster;

public class BucketExtractorTests
{
    [Fact]
    public void A_wake_message_reaches_the_bucket_entity_and_shard_that_the_names_of_that_bucket_reach()
    {
        var extractor = new BucketExtractor(100);
        foreach (var name in new[] { "alice", "bob", "zoë", "x" })
        {
            var envelope = new ToClaim(name.ToUpperInvariant(), new Release(Akka.Actor.ActorRefs.Nobody));
            int bucket = BucketExtractor.BucketOf(name, 100);
            var wake = new WakeClaims(bucket);
            Assert.Equal(extractor.EntityId(envelope), extractor.EntityId(wake));
            Assert.Equal(extractor.ShardId(extractor.EntityId(envelope), envelope), extractor.ShardId(extractor.EntityId(wake), wake));
            Assert.Same(wake, extractor.EntityMessage(wake));
        }
        Assert.Equal("7", new BucketExtractor(100).EntityId(new WakeClaims(7)));
    }
}
