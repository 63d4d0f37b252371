using AccessControl.Display;

namespace AccessControl.Tests.Display;

public class TerminalTextTests
{
    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Show_EscapesTagCharactersAndLoneSurrogates_ThatATerminalWouldNotShow()
    {
        Assert.Equal(@"Alice\U000E0041\U000E007F", TerminalText.Show("Alice\U000E0041\U000E007F"));
        Assert.Equal(@"x\uD800y", TerminalText.Show("x\uD800y"));
        Assert.Equal("Ad\U0001D400 😀 محمد", TerminalText.Show("Ad\U0001D400 😀 محمد"));
    }
}
