using Messenger.TerminalClient;

namespace Messenger.Tests.TerminalClient;

/// <summary>
/// The Native AOT client stubs out Terminal.Gui's module initializer and turns the switch on: the full-screen
/// client then applies Terminal.Gui's configuration itself. Everywhere else the module initializer does it.
/// </summary>
public class DeferredTerminalGuiConfigurationTests
{
    [Fact]
    public void Without_the_switch_the_module_initializer_is_left_to_configure_Terminal_Gui() =>
        Assert.False(DeferredTerminalGuiConfiguration.ApplyIfDeferred());

    [Fact]
    public void With_the_switch_the_client_applies_Terminal_Guis_configuration_itself()
    {
        AppContext.SetSwitch(DeferredTerminalGuiConfiguration.Switch, true);
        try
        {
            Assert.True(DeferredTerminalGuiConfiguration.ApplyIfDeferred());
        }
        finally
        {
            AppContext.SetSwitch(DeferredTerminalGuiConfiguration.Switch, false);
        }
    }
}
